/*
 * Sockets: listenTcp (with deferred accept), listenUnix, connectUnix, accept, listenQueue, and
 * localAddress/peerAddress.
 */
#include "tsgi.h"

/*
 * socket + bind + listen, never registered with libuv: this process only holds the fd so that
 * workers can inherit it and respawned workers can inherit it again.
 */
static int bind_and_listen(napi_env env, const struct sockaddr* address, socklen_t length,
                           int backlog, const char* display) {
  int fd = socket(address->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, errno, "socket", display);
    return -1;
  }
  if (address->sa_family != AF_UNIX) {
    /* A restarted master must rebind while the previous one's connections sit in TIME_WAIT. */
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
      close_and_throw(env, fd, "setsockopt", display);
      return -1;
    }
  }
  if (bind(fd, address, length) != 0) {
    close_and_throw(env, fd, "bind", display);
    return -1;
  }
  if (listen(fd, backlog) != 0) {
    close_and_throw(env, fd, "listen", display);
    return -1;
  }
  return fd;
}

/* listenTcp(host, port, backlog, deferAcceptSeconds) → fd */
napi_value listen_tcp(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t port, backlog, defer_seconds = 0;
  if (!get_int(env, argv[1], "port", 0, 65535, &port) ||
      !get_int(env, argv[2], "backlog", 0, INT32_MAX, &backlog) ||
      (argc >= 4 && !get_int(env, argv[3], "deferAcceptSeconds", 0, 3600, &defer_seconds))) {
    return NULL;
  }
  struct sockaddr_storage address;
  socklen_t length;
  char display[96];
  if (!make_inet_address(env, argv[0], (int)port, &address, &length, display, sizeof display)) {
    return NULL;
  }
  int fd = bind_and_listen(env, (struct sockaddr*)&address, length, (int)backlog, display);
  if (fd < 0) return NULL;
  /* Deferred accept (uWSGI's default): the kernel queues a connection for accept only once its
   * first bytes are in, so a worker never wakes for a connection it cannot read yet (nginx
   * connects, then writes: without this, every request costs a failed read and an epoll
   * registration round trip). A connection that stays silent is still accepted after about
   * that many seconds. */
  int seconds = (int)defer_seconds;
  if (seconds > 0 && setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof seconds) != 0) {
    close_and_throw(env, fd, "setsockopt(TCP_DEFER_ACCEPT)", display);
    return NULL;
  }
  return int_value(env, fd);
}

/* listenUnix(path, backlog) → fd; `path` holds the raw sun_path bytes. */
napi_value listen_unix(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t backlog;
  if (!get_int(env, argv[1], "backlog", 0, INT32_MAX, &backlog)) return NULL;
  struct sockaddr_un address;
  socklen_t length;
  char display[sizeof address.sun_path + 1];
  if (!make_unix_address(env, argv[0], "bind", &address, &length, display, sizeof display)) {
    return NULL;
  }
  int fd = bind_and_listen(env, (struct sockaddr*)&address, length, (int)backlog, display);
  return fd < 0 ? NULL : int_value(env, fd);
}

/*
 * connectUnix(path) → connected non-blocking fd. The connect itself is blocking: a unix
 * socket connects or fails at once (there is no handshake), whereas a non-blocking connect
 * fails with EAGAIN whenever the listener's backlog is momentarily full.
 */
napi_value connect_unix(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct sockaddr_un address;
  socklen_t length;
  char display[sizeof address.sun_path + 1];
  if (!make_unix_address(env, argv[0], "connect", &address, &length, display, sizeof display)) {
    return NULL;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, errno, "socket", display);
    return NULL;
  }
  /* A unix connect interrupted by a signal leaves the socket unconnected, so retrying is safe. */
  int result;
  do result = connect(fd, (struct sockaddr*)&address, length);
  while (result != 0 && errno == EINTR);
  if (result != 0) {
    close_and_throw(env, fd, "connect", display);
    return NULL;
  }
  if (!set_nonblocking(fd, true)) {
    close_and_throw(env, fd, "fcntl", display);
    return NULL;
  }
  return int_value(env, fd);
}

/*
 * accept(listenFd) → fd, or -errno. Returning instead of throwing keeps the hot path free of
 * exceptions: with several workers on one fd, most wake-ups lose the race and get EAGAIN.
 * EINTR and ECONNABORTED (the client gave up while queued) just mean "try the next one".
 */
napi_value accept_connection(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int listen_fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_fd(env, argv[0], &listen_fd)) return NULL;
  int fd;
  do fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  while (fd < 0 && (errno == EINTR || errno == ECONNABORTED));
  return int_value(env, fd < 0 ? -errno : fd);
}

/* localAddress(fd): getsockname, so a `:0` bind can report the port the kernel chose. */
/* getsockname or getpeername of `fd` as an address object (see localAddress/peerAddress). */
static napi_value socket_address(napi_env env, napi_callback_info info, bool peer) {
  size_t argc = 1;
  napi_value argv[1];
  int fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_fd(env, argv[0], &fd)) return NULL;
  struct sockaddr_storage address;
  socklen_t length = sizeof address;
  const char* syscall = peer ? "getpeername" : "getsockname";
  int rc = peer ? getpeername(fd, (struct sockaddr*)&address, &length)
                : getsockname(fd, (struct sockaddr*)&address, &length);
  if (rc != 0) {
    throw_errno(env, errno, syscall, NULL);
    return NULL;
  }
  switch (address.ss_family) {
    case AF_INET:
    case AF_INET6:
      return inet_address_object(env, &address);
    case AF_UNIX:
      return unix_address_object(env, (struct sockaddr_un*)&address, length);
    default:
      throw_errno(env, EAFNOSUPPORT, syscall, NULL);
      return NULL;
  }
}

napi_value local_address(napi_env env, napi_callback_info info) {
  return socket_address(env, info, false);
}

napi_value peer_address(napi_env env, napi_callback_info info) {
  return socket_address(env, info, true);
}

/*
 * listenQueue(fd) → connections waiting in a listening TCP socket's accept queue, or -errno
 * (-EOPNOTSUPP for a unix socket). For a socket in LISTEN state Linux reports the current
 * accept backlog in tcpi_unacked (and its limit in tcpi_sacked), as uWSGI's backlog cheaper
 * algorithm reads it. Unix sockets keep theirs out of reach of getsockopt (only sock_diag).
 */
napi_value listen_queue(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_fd(env, argv[0], &fd)) return NULL;
  struct tcp_info tcp;
  socklen_t length = sizeof tcp;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &tcp, &length) != 0) return int_value(env, -errno);
  return int_value(env, (int)tcp.tcpi_unacked);
}
