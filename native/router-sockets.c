/*
 * A router's sockets: bindUdp (its subscription server), connectTcpNonBlocking and
 * connectUnixNonBlocking (its connections to nodes), socketError.
 *
 * A router connects to a node for every request (the uwsgi protocol closes per request), so
 * the connect must never block the event loop: the TCP connect may still be in progress when
 * the fd is returned (EINPROGRESS; the first write is queued until the socket turns writable,
 * and a refused connect shows as the connection's error, or as SO_ERROR: socketError), and a
 * unix connect to a full backlog fails with EAGAIN instead of waiting. The fd then goes to
 * ConnServer.adopt(), whose C path reads and writes it: net.Socket would cost more CPU per
 * request than the router's own work.
 *
 * bindUdp exists because Node's dgram module cannot create a bound UDP socket without starting
 * to receive on it, and the master must only hold the fd: the router processes inherit it (and
 * a respawned router inherits it again) and receive on it themselves, as workers do with their
 * listening sockets.
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

/* socketError(fd) → 0, or the negative errno a non-blocking connect ended with (SO_ERROR). */
napi_value socket_error(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd;
  if (!get_fd(env, argv[0], &fd)) return NULL;
  int error = 0;
  socklen_t size = sizeof error;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
  return int_value(env, -error);
}

/* connectTcpNonBlocking(host, port) → fd (TCP_NODELAY, connect possibly still in progress) */
napi_value connect_tcp_nonblocking(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t port;
  if (!get_int(env, argv[1], "port", 1, 65535, &port)) return NULL;
  struct sockaddr_storage address;
  socklen_t length;
  char display[96];
  if (!make_inet_address(env, argv[0], (int)port, &address, &length, display, sizeof display)) {
    return NULL;
  }
  int fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, errno, "socket", display);
    return NULL;
  }
  /* The packet is one write and the answer is awaited: Nagle would only delay it. */
  int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  int result;
  do result = connect(fd, (struct sockaddr*)&address, length);
  while (result != 0 && errno == EINTR);
  if (result != 0 && errno != EINPROGRESS) {
    close_and_throw(env, fd, "connect", display);
    return NULL;
  }
  return int_value(env, fd);
}

/* connectUnixNonBlocking(path) → fd; `path` holds the raw sun_path bytes (as connectUnix). */
napi_value connect_unix_nonblocking(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct sockaddr_un address;
  socklen_t length;
  char display[sizeof address.sun_path + 1];
  if (!make_unix_address(env, argv[0], "connect", &address, &length, display, sizeof display)) {
    return NULL;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, errno, "socket", display);
    return NULL;
  }
  int result;
  do result = connect(fd, (struct sockaddr*)&address, length);
  while (result != 0 && errno == EINTR);
  if (result != 0) {
    close_and_throw(env, fd, "connect", display); /* EAGAIN: the node's backlog is full */
    return NULL;
  }
  return int_value(env, fd);
}
