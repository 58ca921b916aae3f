/*
 * systemd's notification socket: a unix datagram socket, which Node's dgram module cannot
 * open (it speaks UDP only). The master connects once, at start, so the messages still reach
 * systemd after a --chroot hides the socket's path and a --uid drop denies opening it again.
 */
#include "tsgi.h"

/* connectUnixDatagram(pathBytes) → fd: a non-blocking SOCK_DGRAM socket connected to it. */
napi_value connect_unix_datagram(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct sockaddr_un address;
  socklen_t length;
  char display[sizeof address.sun_path + 1];
  if (!make_unix_address(env, argv[0], "connect", &address, &length, display, sizeof display)) {
    return NULL;
  }
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    throw_errno(env, errno, "socket", display);
    return NULL;
  }
  if (connect(fd, (struct sockaddr*)&address, length) != 0) {
    close_and_throw(env, fd, "connect", display);
    return NULL;
  }
  return int_value(env, fd);
}

/*
 * sendDatagram(fd, bytes) → true when sent, false when the receiver's queue is full (EAGAIN):
 * a status line is not worth blocking the master for. Other errors throw.
 */
napi_value send_datagram(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  int fd;
  const char* bytes;
  size_t count;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_fd(env, argv[0], &fd) || !get_buffer(env, argv[1], "bytes", &bytes, &count)) return NULL;
  ssize_t sent;
  do sent = send(fd, bytes, count, MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  if (sent < 0 && errno != EAGAIN) {
    throw_errno(env, errno, "send", NULL);
    return NULL;
  }
  CHECK(napi_get_boolean(env, sent >= 0, &result));
  return result;
}
