/*
 * Datagrams: bindUdp, for the subscription server of a router. Node's dgram module cannot
 * create a bound UDP socket without starting to receive on it, and the master must only hold
 * the fd: the router processes inherit it (and a respawned router inherits it again) and
 * receive on it themselves, as the listening sockets of workers are handled.
 */
#include "tsgi.h"

/* bindUdp(host, port) → a bound, non-blocking, close-on-exec UDP fd. */
napi_value bind_udp(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t port;
  if (!get_int(env, argv[1], "port", 0, 65535, &port)) return NULL;
  struct sockaddr_storage address;
  socklen_t length;
  char display[96];
  if (!make_inet_address(env, argv[0], (int)port, &address, &length, display, sizeof display)) {
    return NULL;
  }
  int fd = socket(address.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, errno, "socket", display);
    return NULL;
  }
  /* A restarted master rebinds the announced port at once. */
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
    close_and_throw(env, fd, "setsockopt", display);
    return NULL;
  }
  if (bind(fd, (struct sockaddr*)&address, length) != 0) {
    close_and_throw(env, fd, "bind", display);
    return NULL;
  }
  return int_value(env, fd);
}
