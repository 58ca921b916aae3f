/*
 * Unix datagram sockets, which Node's dgram module does not offer (it speaks UDP only).
 *
 * The syslog log target sends each line as one datagram to /dev/log (or wherever
 * TSGI_SYSLOG_SOCKET points), as syslog(3) does: unixDgramSocket + unixDgramSend, non-blocking,
 * reporting errno instead of throwing, because a log line that cannot go out (no syslog daemon,
 * its queue full) is dropped and counted by the caller, never waited for.
 *
 * systemd's notification socket: connectUnixDatagram + sendDatagram. The master connects once,
 * at start, so the messages still reach systemd after a --chroot hides the socket's path and a
 * --uid drop denies opening it again.
 */
#include "tsgi.h"

/* unixDgramSocket() → fd: an unbound AF_UNIX SOCK_DGRAM socket, non-blocking, close-on-exec. */
napi_value unix_dgram_socket(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, errno, "socket", NULL);
    return NULL;
  }
  return int_value(env, fd);
}

/*
 * unixDgramSend(fd, path, buffer) → bytes sent, or -errno (ENOENT: nothing at path,
 * ECONNREFUSED: nobody reads it, EAGAIN: its queue is full, EMSGSIZE: the line is too long).
 */
napi_value unix_dgram_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int fd;
  const char* data;
  size_t length;
  struct sockaddr_un address;
  socklen_t address_length;
  char display[128];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_fd(env, argv[0], &fd) ||
      !make_unix_address(env, argv[1], "sendto", &address, &address_length, display, sizeof display) ||
      !get_buffer(env, argv[2], "buffer", &data, &length)) {
    return NULL;
  }
  ssize_t sent;
  do {
    sent = sendto(fd, data, length, MSG_NOSIGNAL, (struct sockaddr*)&address, address_length);
  } while (sent < 0 && errno == EINTR);
  return int_value(env, sent < 0 ? -errno : (int)sent);
}

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
