/*
 * Unix datagram sockets, which Node's dgram module does not offer: the syslog log target sends
 * each line as one datagram to /dev/log (or wherever TSGI_SYSLOG_SOCKET points), as syslog(3)
 * does. The socket is non-blocking and the send reports errno instead of throwing, because a
 * log line that cannot go out (no syslog daemon, its queue full) is dropped and counted by the
 * caller, never waited for.
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
