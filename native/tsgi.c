/*
 * tsgi's native addon: the few socket calls Node's net module cannot express, and a libuv poll
 * handle that reports readiness of any fd.
 *
 * Why each piece exists:
 *  - listenTcp/listenUnix: the master binds and listens but never accepts; workers inherit the
 *    integer fd. A net.Server would register the fd with this process's event loop and accept.
 *  - exact-length unix addresses: uWSGI's `@name` is the bytes "\0name\0", and Node pads
 *    abstract names to 108 bytes, so Node can neither bind nor reach uWSGI-style names.
 *  - accept: several workers accept4() on one shared fd, so EAGAIN is routine and is returned,
 *    not thrown.
 *  - Poll: wait_fd_read/wait_fd_write need readiness of an arbitrary fd (pipe, socket, eventfd)
 *    without consuming its data.
 *  - shared memory, pidAlive, futexWait/futexWake: the memory shared by master and workers (cache, queue, scoreboard)
 *    and the cross-process lock on it; Node can neither mmap nor futex-wait on such memory.
 *  - tryLockFile: the spooler's claim on a task file, an fcntl write lock that real uWSGI's
 *    spoolers (classic POSIX locks) respect too; Node has no fcntl.
 *  - ConnServer: the uwsgi and HTTP connection path (accept, read, write, close) in C, because
 *    net.Socket's per-connection machinery costs more CPU than a small request, and more memory
 *    than a parked long-poll.
 *
 * Only Node-API (node_api.h) and the libuv that Node itself exports are used.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

/* ---------------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------------- */

/*
 * Throws an Error shaped like Node's own system errors (.code, .errno, .syscall) so callers can
 * switch on `.code` exactly as they do for net and fs errors. The message reads
 * "<syscall> <detail>: <CODE> (<text>)". libuv's names are used because on Unix UV_E* == -errno,
 * and the _r variants because uv_err_name() leaks a string for unknown errnos.
 */
static void throw_errno_text(napi_env env, int errnum, const char* syscall, const char* detail,
                             const char* text) {
  char code[64], description[128], message[512];
  uv_err_name_r(-errnum, code, sizeof code);
  if (text == NULL) {
    uv_strerror_r(-errnum, description, sizeof description);
    text = description;
  }
  snprintf(message, sizeof message, "%s%s%s: %s (%s)", syscall, detail ? " " : "",
           detail ? detail : "", code, text);

  napi_value code_value, message_value, error, syscall_value, errno_value;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value) != napi_ok ||
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value) != napi_ok ||
      napi_create_error(env, code_value, message_value, &error) != napi_ok ||
      napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value) != napi_ok ||
      napi_set_named_property(env, error, "syscall", syscall_value) != napi_ok ||
      napi_create_int32(env, -errnum, &errno_value) != napi_ok ||
      napi_set_named_property(env, error, "errno", errno_value) != napi_ok) {
    return;
  }
  napi_throw(env, error);
}

static void throw_errno(napi_env env, int errnum, const char* syscall, const char* detail) {
  throw_errno_text(env, errnum, syscall, detail, NULL);
}

/* Closes a half-set-up fd without losing the errno that explains the failure. */
static void close_and_throw(napi_env env, int fd, const char* syscall, const char* detail) {
  int saved = errno;
  close(fd);
  throw_errno(env, saved, syscall, detail);
}

/*
 * A failed Node-API call usually leaves an exception pending; when it does not (invalid
 * argument, engine failure) this throws one so JS never sees a silent `undefined`.
 */
static napi_value napi_failed(napi_env env) {
  const napi_extended_error_info* info = NULL;
  char message[256] = "Node-API call failed";
  if (napi_get_last_error_info(env, &info) == napi_ok && info && info->error_message) {
    snprintf(message, sizeof message, "Node-API call failed: %s", info->error_message);
  }
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, "ERR_TSGI_NAPI", message);
  return NULL;
}

#define CHECK(call)                                    \
  do {                                                 \
    if ((call) != napi_ok) return napi_failed(env);    \
  } while (0)

/* ---------------------------------------------------------------------------------------------
 * Argument readers: each throws a TypeError/RangeError with Node's codes and returns false.
 * ------------------------------------------------------------------------------------------- */

static bool expect_type(napi_env env, napi_value value, napi_valuetype wanted, const char* name,
                        const char* type_name) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return false;
  if (type == wanted) return true;
  char message[128];
  snprintf(message, sizeof message, "The \"%s\" argument must be of type %s", name, type_name);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return false;
}

/* Reads an integer in [min, max]; fractions and out-of-range values are rejected, not truncated. */
static bool get_int(napi_env env, napi_value value, const char* name, double min, double max,
                    int64_t* out) {
  double number;
  if (!expect_type(env, value, napi_number, name, "number")) return false;
  if (napi_get_value_double(env, value, &number) != napi_ok) return false;
  if (!(number >= min && number <= max) || number != (double)(int64_t)number) {
    char message[160];
    snprintf(message, sizeof message, "The \"%s\" argument must be an integer in %.0f..%.0f",
             name, min, max);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
    return false;
  }
  *out = (int64_t)number;
  return true;
}

static bool get_fd(napi_env env, napi_value value, int* fd) {
  int64_t number;
  if (!get_int(env, value, "fd", 0, INT32_MAX, &number)) return false;
  *fd = (int)number;
  return true;
}

static bool get_bool(napi_env env, napi_value value, const char* name, bool* out) {
  return expect_type(env, value, napi_boolean, name, "boolean") &&
         napi_get_value_bool(env, value, out) == napi_ok;
}

static bool get_buffer(napi_env env, napi_value value, const char* name, const char** data,
                       size_t* length) {
  bool is_buffer = false;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok) return false;
  if (!is_buffer) {
    char message[128];
    snprintf(message, sizeof message, "The \"%s\" argument must be a Buffer", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return false;
  }
  void* bytes = NULL;
  if (napi_get_buffer_info(env, value, &bytes, length) != napi_ok) return false;
  *data = bytes;
  return true;
}

/* ---------------------------------------------------------------------------------------------
 * Addresses
 * ------------------------------------------------------------------------------------------- */

/*
 * Renders sun_path bytes for messages the way `ss -x` does: an abstract name starts with '@' and
 * every NUL inside it is shown as '@'; a filesystem path stops at its terminating NUL.
 */
static void describe_unix_path(const char* bytes, size_t length, char* out, size_t size) {
  size_t n = 0;
  bool abstract = length > 0 && bytes[0] == '\0';
  for (size_t i = 0; i < length && n + 1 < size; i++) {
    if (bytes[i] == '\0' && !abstract) break;
    out[n++] = bytes[i] == '\0' ? '@' : bytes[i];
  }
  out[n] = '\0';
}

/*
 * Builds a sockaddr_un whose length is offsetof(sun_path) + the bytes given, never
 * sizeof(struct sockaddr_un): the kernel compares abstract names over exactly that length, so
 * "\0name\0" (uWSGI's `@name`) and "\0name" are two different sockets.
 */
static bool make_unix_address(napi_env env, napi_value path, const char* syscall,
                              struct sockaddr_un* address, socklen_t* length, char* display,
                              size_t display_size) {
  const char* bytes;
  size_t count;
  if (!get_buffer(env, path, "path", &bytes, &count)) return false;
  describe_unix_path(bytes, count, display, display_size);
  if (count > sizeof address->sun_path) {
    throw_errno(env, ENAMETOOLONG, syscall, display);
    return false;
  }
  memset(address, 0, sizeof *address);
  address->sun_family = AF_UNIX;
  memcpy(address->sun_path, bytes, count);
  *length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + count);
  return true;
}

/*
 * Parses a numeric host. There is no DNS lookup on purpose: the master must not block on a
 * resolver while booting, and uWSGI socket options take literal addresses too. "" means every
 * IPv4 interface, a ':' selects IPv6, and "[v6]" brackets are tolerated.
 */
static bool make_inet_address(napi_env env, napi_value host_value, int port,
                              struct sockaddr_storage* address, socklen_t* length, char* display,
                              size_t display_size) {
  char text[64];
  size_t text_length = 0;
  if (!expect_type(env, host_value, napi_string, "host", "string")) return false;
  if (napi_get_value_string_utf8(env, host_value, text, sizeof text, &text_length) != napi_ok) {
    return false;
  }
  char* host = text;
  if (text_length >= 2 && text[0] == '[' && text[text_length - 1] == ']') {
    text[text_length - 1] = '\0';
    host++;
  }

  memset(address, 0, sizeof *address);
  bool valid;
  if (strchr(host, ':') != NULL) {
    struct sockaddr_in6* in6 = (struct sockaddr_in6*)address;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    valid = inet_pton(AF_INET6, host, &in6->sin6_addr) == 1;
    *length = sizeof *in6;
    snprintf(display, display_size, "[%s]:%d", host, port);
  } else {
    struct sockaddr_in* in4 = (struct sockaddr_in*)address;
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    if (host[0] == '\0') host = "0.0.0.0";
    valid = inet_pton(AF_INET, host, &in4->sin_addr) == 1;
    *length = sizeof *in4;
    snprintf(display, display_size, "%s:%d", host, port);
  }
  /* A string truncated by the 64-byte buffer cannot be an address either. */
  if (!valid || text_length >= sizeof text - 1) {
    throw_errno_text(env, EINVAL, "listenTcp", display, "not a numeric IPv4 or IPv6 address");
    return false;
  }
  return true;
}

/* ---------------------------------------------------------------------------------------------
 * Sockets
 * ------------------------------------------------------------------------------------------- */

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

static napi_value int_value(napi_env env, int value) {
  napi_value result;
  CHECK(napi_create_int32(env, value, &result));
  return result;
}

/* listenTcp(host, port, backlog, deferAcceptSeconds) → fd */
static napi_value listen_tcp(napi_env env, napi_callback_info info) {
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
static napi_value listen_unix(napi_env env, napi_callback_info info) {
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

static bool set_nonblocking(int fd, bool on) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return false;
  int wanted = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
  return wanted == flags || fcntl(fd, F_SETFL, wanted) == 0;
}

/*
 * connectUnix(path) → connected non-blocking fd. The connect itself is blocking: a unix
 * socket connects or fails at once (there is no handshake), whereas a non-blocking connect
 * fails with EAGAIN whenever the listener's backlog is momentarily full.
 */
static napi_value connect_unix(napi_env env, napi_callback_info info) {
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
static napi_value accept_connection(napi_env env, napi_callback_info info) {
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

static napi_value inet_address_object(napi_env env, const struct sockaddr_storage* address) {
  char text[INET6_ADDRSTRLEN];
  const char* family;
  int port;
  if (address->ss_family == AF_INET) {
    const struct sockaddr_in* in4 = (const struct sockaddr_in*)address;
    inet_ntop(AF_INET, &in4->sin_addr, text, sizeof text);
    family = "IPv4";
    port = ntohs(in4->sin_port);
  } else {
    const struct sockaddr_in6* in6 = (const struct sockaddr_in6*)address;
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    family = "IPv6";
    port = ntohs(in6->sin6_port);
  }
  napi_value object, family_value, address_value, port_value;
  CHECK(napi_create_object(env, &object));
  CHECK(napi_create_string_utf8(env, family, NAPI_AUTO_LENGTH, &family_value));
  CHECK(napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &address_value));
  CHECK(napi_create_int32(env, port, &port_value));
  CHECK(napi_set_named_property(env, object, "family", family_value));
  CHECK(napi_set_named_property(env, object, "address", address_value));
  CHECK(napi_set_named_property(env, object, "port", port_value));
  return object;
}

/* The unix path is returned as raw bytes: an abstract name is not a printable string. */
static napi_value unix_address_object(napi_env env, const struct sockaddr_un* address,
                                      socklen_t length) {
  size_t path_offset = offsetof(struct sockaddr_un, sun_path);
  size_t path_length = length > path_offset ? length - path_offset : 0;
  napi_value object, family_value, path_value;
  CHECK(napi_create_object(env, &object));
  CHECK(napi_create_string_utf8(env, "unix", NAPI_AUTO_LENGTH, &family_value));
  CHECK(napi_create_buffer_copy(env, path_length, address->sun_path, NULL, &path_value));
  CHECK(napi_set_named_property(env, object, "family", family_value));
  CHECK(napi_set_named_property(env, object, "path", path_value));
  return object;
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

static napi_value local_address(napi_env env, napi_callback_info info) {
  return socket_address(env, info, false);
}

static napi_value peer_address(napi_env env, napi_callback_info info) {
  return socket_address(env, info, true);
}

/* ---------------------------------------------------------------------------------------------
 * Plain fd helpers
 * ------------------------------------------------------------------------------------------- */

/* dup(fd): close-on-exec, so only fds passed explicitly in spawn's stdio reach children. */
static napi_value dup_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_fd(env, argv[0], &fd)) return NULL;
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    throw_errno(env, errno, "dup", NULL);
    return NULL;
  }
  return int_value(env, copy);
}

/*
 * close(fd). EINTR is not retried: Linux releases the fd even then, and a retry could close a
 * descriptor another thread has just been given.
 */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_fd(env, argv[0], &fd)) return NULL;
  if (close(fd) != 0 && errno != EINTR) throw_errno(env, errno, "close", NULL);
  return NULL;
}

static napi_value set_nonblocking_fd(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int fd;
  bool on;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_fd(env, argv[0], &fd) || !get_bool(env, argv[1], "on", &on)) return NULL;
  if (!set_nonblocking(fd, on)) throw_errno(env, errno, "fcntl", NULL);
  return NULL;
}

/*
 * raiseOpenFilesLimit(wanted) → resulting soft limit. It only ever raises: a server asking for
 * more fds must not shrink a limit the operator already set higher. The hard limit is raised
 * only when the process may (root); otherwise the soft limit stops at the hard one.
 */
static napi_value raise_open_files_limit(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t wanted_number;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_int(env, argv[0], "wanted", 1, (double)INT32_MAX, &wanted_number)) return NULL;
  rlim_t wanted = (rlim_t)wanted_number;

  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    throw_errno(env, errno, "getrlimit", NULL);
    return NULL;
  }
  if (wanted > limit.rlim_max) {
    struct rlimit raised = {wanted, wanted};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised; /* EPERM when not root: fine */
  }
  if (wanted > limit.rlim_max) wanted = limit.rlim_max;
  if (wanted > limit.rlim_cur) {
    limit.rlim_cur = wanted;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      throw_errno(env, errno, "setrlimit", NULL);
      return NULL;
    }
  }
  napi_value result;
  CHECK(napi_create_double(env, (double)limit.rlim_cur, &result));
  return result;
}

/* pipe() → [readFd, writeFd], blocking and close-on-exec: a simple fd pair to wait on. */
static napi_value make_pipe(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    throw_errno(env, errno, "pipe2", NULL);
    return NULL;
  }
  napi_value pair, read_end, write_end;
  if (napi_create_array_with_length(env, 2, &pair) != napi_ok ||
      napi_create_int32(env, fds[0], &read_end) != napi_ok ||
      napi_create_int32(env, fds[1], &write_end) != napi_ok ||
      napi_set_element(env, pair, 0, read_end) != napi_ok ||
      napi_set_element(env, pair, 1, write_end) != napi_ok) {
    close(fds[0]);
    close(fds[1]);
    return napi_failed(env);
  }
  return pair;
}

/* ---------------------------------------------------------------------------------------------
 * Shared memory: the region the master creates and every worker maps (cache, queue, scoreboard,
 * signal table), plus what a cross-process lock needs from the kernel.
 *
 *  - shmCreate: memfd_create, not shm_open: the region has no name to clean up after a crash
 *    (it disappears with the last fd and mapping), and workers inherit the fd through spawn's
 *    stdio, so no path is ever shared.
 *  - shmOpenFile: --cache-store keeps the cache in a regular file mapped MAP_SHARED, so it
 *    outlives the processes. A size mismatch is an error, never a silent truncate/extend: the
 *    file's size is derived from --cache/--cache-blocksize and a wrong one means other options.
 *  - shmMap: the mapping is wrapped as an external ArrayBuffer (Node 20 has no way to make a
 *    SharedArrayBuffer over foreign memory). Atomics work on it, except Atomics.wait/notify,
 *    which require a SharedArrayBuffer: hence futexWait/futexWake below.
 *  - pidAlive: a lock word holds its owner's pid; the others need to know when that owner died.
 *  - futexWait/futexWake: without FUTEX_PRIVATE_FLAG, so the kernel keys the wait queue on the
 *    shared page itself and processes mapping the same memfd or file wake each other.
 * ------------------------------------------------------------------------------------------- */

/* Sizes are JS numbers: integers up to 2^53 are exact, which covers any mapping we can make. */
#define MAX_SAFE_INTEGER 9007199254740991.0

static bool get_size(napi_env env, napi_value value, const char* name, size_t* out) {
  int64_t number;
  if (!get_int(env, value, name, 1, MAX_SAFE_INTEGER, &number)) return false;
  *out = (size_t)number;
  return true;
}

/* Copies a JS string into `out`; a string that does not fit is an ENAMETOOLONG error. */
static bool get_string(napi_env env, napi_value value, const char* name, const char* syscall,
                       char* out, size_t size) {
  size_t length = 0;
  if (!expect_type(env, value, napi_string, name, "string")) return false;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) return false;
  if (length >= size) {
    throw_errno(env, ENAMETOOLONG, syscall, NULL);
    return false;
  }
  return napi_get_value_string_utf8(env, value, out, size, &length) == napi_ok;
}

/* shmCreate(name, size) → fd of a zero-filled anonymous memory file (close-on-exec). */
static napi_value shm_create(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  /* The kernel limits memfd names to 249 bytes; the name only shows in /proc/PID/fd. */
  char name[250];
  size_t size;
  if (!get_string(env, argv[0], "name", "memfd_create", name, sizeof name) ||
      !get_size(env, argv[1], "size", &size)) {
    return NULL;
  }
  int fd = memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) {
    throw_errno(env, errno, "memfd_create", name);
    return NULL;
  }
  if (ftruncate(fd, (off_t)size) != 0) {
    close_and_throw(env, fd, "ftruncate", name);
    return NULL;
  }
  return int_value(env, fd);
}

/*
 * shmOpenFile(path, size) → fd of a regular file of exactly `size` bytes, created (mode 0600,
 * zero-filled) when missing or empty. An existing file of another size, or something that is not
 * a regular file, throws EINVAL with both sizes in the message: mapping it would either lose
 * data (truncate) or fault with SIGBUS past its end.
 */
static napi_value shm_open_file(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[4096];
  size_t size;
  if (!get_string(env, argv[0], "path", "open", path, sizeof path) ||
      !get_size(env, argv[1], "size", &size)) {
    return NULL;
  }
  int fd;
  do fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    throw_errno(env, errno, "open", path);
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close_and_throw(env, fd, "fstat", path);
    return NULL;
  }
  char text[160];
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    throw_errno_text(env, EINVAL, "shmOpenFile", path, "not a regular file");
    return NULL;
  }
  if (st.st_size == 0) {
    if (ftruncate(fd, (off_t)size) != 0) {
      close_and_throw(env, fd, "ftruncate", path);
      return NULL;
    }
  } else if ((uint64_t)st.st_size != (uint64_t)size) {
    close(fd);
    snprintf(text, sizeof text, "the file is %llu bytes, expected %llu",
             (unsigned long long)st.st_size, (unsigned long long)size);
    throw_errno_text(env, EINVAL, "shmOpenFile", path, text);
    return NULL;
  }
  return int_value(env, fd);
}

static void unmap_finalize(napi_env env, void* data, void* hint) {
  (void)env;
  munmap(data, (size_t)(uintptr_t)hint);
}

/*
 * shmMap(fd, size) → ArrayBuffer over mmap(MAP_SHARED) of the first `size` bytes; munmap runs
 * when the ArrayBuffer is garbage collected. The fd may be closed right after: the mapping keeps
 * the memory alive. The file must already be that large: a mapping past its end would SIGBUS on
 * first touch, so that is checked and refused here.
 */
static napi_value shm_map(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int fd;
  size_t size;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_fd(env, argv[0], &fd) || !get_size(env, argv[1], "size", &size)) return NULL;
  char detail[32];
  snprintf(detail, sizeof detail, "fd %d", fd);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    throw_errno(env, errno, "fstat", detail);
    return NULL;
  }
  if ((uint64_t)st.st_size < (uint64_t)size) {
    char text[160];
    snprintf(text, sizeof text, "the file is %llu bytes, cannot map %llu",
             (unsigned long long)st.st_size, (unsigned long long)size);
    throw_errno_text(env, EINVAL, "mmap", detail, text);
    return NULL;
  }
  void* memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (memory == MAP_FAILED) {
    throw_errno(env, errno, "mmap", detail);
    return NULL;
  }
  napi_value buffer;
  if (napi_create_external_arraybuffer(env, memory, size, unmap_finalize, (void*)(uintptr_t)size,
                                       &buffer) != napi_ok) {
    munmap(memory, size);
    return napi_failed(env);
  }
  return buffer;
}

/*
 * shmSync(buffer): msync(MS_SYNC) of a mapping from shmMap, so a --cache-store file is on disk
 * before a clean shutdown returns. (Page-cache contents already survive the processes; this is
 * for the machine going down.)
 */
static napi_value shm_sync(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool is_arraybuffer = false;
  CHECK(napi_is_arraybuffer(env, argv[0], &is_arraybuffer));
  if (!is_arraybuffer) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                          "The \"buffer\" argument must be an ArrayBuffer");
    return NULL;
  }
  void* data = NULL;
  size_t length = 0;
  CHECK(napi_get_arraybuffer_info(env, argv[0], &data, &length));
  if (length > 0 && msync(data, length, MS_SYNC) != 0) throw_errno(env, errno, "msync", NULL);
  return NULL;
}

/*
 * True while `pid` runs. A zombie counts as dead: a SIGKILLed worker stays a zombie until its
 * parent reaps it, and the parent (the master, or a test) may itself be the one waiting for the
 * lock that the dead worker holds, so treating zombies as alive could deadlock. The state comes
 * from /proc/PID/stat (the field after the last ')', since the command name may contain one).
 */
static bool process_alive(pid_t pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;
  char path[64], stat_text[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno != ENOENT; /* no /proc: trust kill() */
  ssize_t n = read(fd, stat_text, sizeof stat_text - 1);
  close(fd);
  if (n <= 0) return true;
  stat_text[n] = '\0';
  const char* paren = strrchr(stat_text, ')');
  if (paren == NULL || paren[1] != ' ') return true;
  return paren[2] != 'Z' && paren[2] != 'X';
}

/*
 * tryLockFile(fd) → boolean: takes a non-blocking write lock on the whole file, or returns false
 * when another holder has it. An open-file-description lock (F_OFD_SETLK) rather than a classic
 * POSIX one: it belongs to this fd, so closing some other fd of the same file in this process
 * does not drop it, and two fds of one process conflict like two processes do. It still conflicts
 * with the classic fcntl locks real uWSGI takes. Closing the fd releases it.
 */
static napi_value try_lock_file(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_fd(env, argv[0], &fd)) return NULL;
  struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0, .l_pid = 0};
  bool locked = fcntl(fd, F_OFD_SETLK, &lock) == 0;
  if (!locked && errno != EAGAIN && errno != EACCES) {
    throw_errno(env, errno, "fcntl", NULL);
    return NULL;
  }
  napi_value result;
  CHECK(napi_get_boolean(env, locked, &result));
  return result;
}

/* pidAlive(pid) → boolean. EPERM (someone else's process) still means "exists". */
static napi_value pid_alive(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t pid;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  /* 0 and negative pids address process groups in kill(): never a lock owner. */
  if (!get_int(env, argv[0], "pid", 1, INT32_MAX, &pid)) return NULL;
  napi_value result;
  CHECK(napi_get_boolean(env, process_alive((pid_t)pid), &result));
  return result;
}

/*
 * exec(path, args): replaces this process image with execv(), keeping its pid, environment and
 * stdio (every other fd of Node's is close-on-exec). It returns only by throwing. A single tsgi
 * process uses it once at start, to take V8 flags that only apply then.
 */
static napi_value exec_program(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[PATH_MAX];
  if (!get_string(env, argv[0], "path", "execv", path, sizeof path)) return NULL;
  bool is_array = false;
  CHECK(napi_is_array(env, argv[1], &is_array));
  if (!is_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "The \"args\" argument must be an Array");
    return NULL;
  }
  uint32_t count = 0;
  CHECK(napi_get_array_length(env, argv[1], &count));
  char** args = calloc((size_t)count + 1, sizeof *args);
  bool ok = args != NULL;
  for (uint32_t i = 0; ok && i < count; i++) {
    napi_value item;
    size_t length = 0;
    ok = napi_get_element(env, argv[1], i, &item) == napi_ok &&
         expect_type(env, item, napi_string, "args", "string array") &&
         napi_get_value_string_utf8(env, item, NULL, 0, &length) == napi_ok &&
         (args[i] = malloc(length + 1)) != NULL &&
         napi_get_value_string_utf8(env, item, args[i], length + 1, &length) == napi_ok;
  }
  int saved = ENOMEM;
  if (ok) {
    /* libuv marks the stdio fds it wraps close-on-exec and a pipe non-blocking: undo both, so
     * the new image starts with stdio as any program does. */
    for (int fd = 0; fd <= 2; fd++) {
      int fd_flags = fcntl(fd, F_GETFD), fl_flags = fcntl(fd, F_GETFL);
      if (fd_flags >= 0) fcntl(fd, F_SETFD, fd_flags & ~FD_CLOEXEC);
      if (fl_flags >= 0) fcntl(fd, F_SETFL, fl_flags & ~O_NONBLOCK);
    }
    execv(path, args);
    saved = errno;
  }
  for (uint32_t i = 0; args != NULL && i < count; i++) free(args[i]);
  free(args);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) throw_errno(env, saved, "execv", path);
  return NULL;
}

/* Resolves (Int32Array, index) to the address of that element, with Atomics.wait's checks. */
static int32_t* get_futex_word(napi_env env, napi_value array, napi_value index_value) {
  bool is_typedarray = false;
  if (napi_is_typedarray(env, array, &is_typedarray) != napi_ok) return NULL;
  napi_typedarray_type type = napi_uint8_array;
  size_t length = 0, byte_offset = 0;
  void* data = NULL;
  if (is_typedarray && napi_get_typedarray_info(env, array, &type, &length, &data, NULL,
                                                &byte_offset) != napi_ok) {
    return NULL;
  }
  if (!is_typedarray || type != napi_int32_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                          "The \"array\" argument must be an Int32Array");
    return NULL;
  }
  int64_t index;
  if (length == 0 ||
      !get_int(env, index_value, "index", 0, (double)length - 1, &index)) {
    if (length == 0) napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "empty Int32Array");
    return NULL;
  }
  return (int32_t*)data + index; /* `data` already includes the view's byte offset */
}

/*
 * futexWait(int32Array, index, expected, timeoutMs) → 'ok' | 'not-equal' | 'timed-out', like
 * Atomics.wait, which refuses these buffers. It blocks this thread (the event loop too): callers
 * keep timeouts short. EINTR (a signal arrived) is reported as 'ok', a spurious wake-up the
 * caller's re-check absorbs, so signal handlers are never delayed by a long wait.
 */
static napi_value futex_wait(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t* word = get_futex_word(env, argv[0], argv[1]);
  if (word == NULL) return NULL;
  int64_t expected;
  double timeout_ms;
  if (!get_int(env, argv[2], "expected", INT32_MIN, INT32_MAX, &expected) ||
      !expect_type(env, argv[3], napi_number, "timeoutMs", "number")) {
    return NULL;
  }
  CHECK(napi_get_value_double(env, argv[3], &timeout_ms));
  if (!(timeout_ms >= 0)) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                           "The \"timeoutMs\" argument must be >= 0 (Infinity: no timeout)");
    return NULL;
  }
  struct timespec timeout, *timeout_ptr = NULL;
  if (timeout_ms < 1e15) { /* otherwise: wait without a timeout */
    timeout.tv_sec = (time_t)(timeout_ms / 1000);
    timeout.tv_nsec = (long)((timeout_ms - (double)timeout.tv_sec * 1000) * 1e6);
    if (timeout.tv_nsec > 999999999) timeout.tv_nsec = 999999999;
    timeout_ptr = &timeout;
  }
  const char* outcome = "ok";
  if (syscall(SYS_futex, word, FUTEX_WAIT, (int32_t)expected, timeout_ptr, NULL, 0) != 0) {
    if (errno == EAGAIN) {
      outcome = "not-equal";
    } else if (errno == ETIMEDOUT) {
      outcome = "timed-out";
    } else if (errno != EINTR) {
      throw_errno(env, errno, "futex", "FUTEX_WAIT");
      return NULL;
    }
  }
  napi_value result;
  CHECK(napi_create_string_utf8(env, outcome, NAPI_AUTO_LENGTH, &result));
  return result;
}

/* futexWake(int32Array, index, count) → how many waiters (in any process) were woken. */
static napi_value futex_wake(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t* word = get_futex_word(env, argv[0], argv[1]);
  if (word == NULL) return NULL;
  double count;
  if (!expect_type(env, argv[2], napi_number, "count", "number")) return NULL;
  CHECK(napi_get_value_double(env, argv[2], &count));
  if (!(count >= 0)) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE",
                           "The \"count\" argument must be >= 0 (Infinity: all waiters)");
    return NULL;
  }
  int wake = count >= (double)INT32_MAX ? INT32_MAX : (int)count;
  long woken = syscall(SYS_futex, word, FUTEX_WAKE, wake, NULL, NULL, 0);
  if (woken < 0) {
    throw_errno(env, errno, "futex", "FUTEX_WAKE");
    return NULL;
  }
  return int_value(env, (int)woken);
}

/* ---------------------------------------------------------------------------------------------
 * Poll: a uv_poll_t on Node's own event loop.
 *
 * Lifetime rules:
 *  - The struct is freed only when both the libuv close callback has run and the JS object is
 *    gone (finalized), because either side may still point at it until then.
 *  - Each poll registers an async cleanup hook: when a worker thread's environment exits, the
 *    handle must be closed AND its close callback must have run before Node unloads the addon
 *    (a close callback into an unmapped .so crashes the process). Node waits for the hook.
 *  - While started, the Poll holds a strong reference to its JS object, as Node's own handles
 *    do: `new Poll(fd, cb).start(1)` without keeping the object must keep working.
 *  - JS resources (callback, async context, that reference) are released at close(), or right
 *    after the callback returns when close() is called from inside it.
 * ------------------------------------------------------------------------------------------- */

typedef struct {
  uv_poll_t handle;
  napi_env env;
  napi_ref wrapper;                   /* weak; strong while started */
  napi_ref callback;
  napi_async_context async_context;   /* so async_hooks/AsyncLocalStorage see the callback */
  napi_async_cleanup_hook_handle cleanup;
  int fd;                             /* the polled fd (a dup unless ownFd) */
  int original_fd;                    /* for messages */
  bool closes_fd;                     /* we dup'd it, so we close it */
  bool started;
  bool in_callback;
  bool closing;
  bool handle_closed;
  bool finalized;
} tsgi_poll;

/* The strong reference mirrors whether libuv considers the poll started. */
static void poll_set_started(napi_env env, tsgi_poll* poll, bool started) {
  if (poll->started == started) return;
  poll->started = started;
  if (started) {
    napi_reference_ref(env, poll->wrapper, NULL);
  } else {
    napi_reference_unref(env, poll->wrapper, NULL);
  }
}

static void poll_release_js(napi_env env, tsgi_poll* poll) {
  if (poll->callback != NULL) {
    napi_delete_reference(env, poll->callback);
    poll->callback = NULL;
  }
  if (poll->async_context != NULL) {
    napi_async_destroy(env, poll->async_context);
    poll->async_context = NULL;
  }
  poll_set_started(env, poll, false);
}

static void on_poll_closed(uv_handle_t* handle) {
  tsgi_poll* poll = handle->data;
  if (poll->closes_fd) close(poll->fd);
  /* Tells an exiting environment that this poll is done; harmless at any other time. */
  if (poll->cleanup != NULL) napi_remove_async_cleanup_hook(poll->cleanup);
  poll->handle_closed = true;
  if (poll->finalized) free(poll);
}

/* Idempotent. uv_close also stops the watcher, so the fd can be closed in on_poll_closed. */
static void poll_close(napi_env env, tsgi_poll* poll) {
  if (poll->closing) return;
  poll->closing = true;
  if (!poll->in_callback) poll_release_js(env, poll);
  uv_close((uv_handle_t*)&poll->handle, on_poll_closed);
}

/* The environment (a worker thread) is exiting with this poll still open. */
static void poll_on_env_exit(napi_async_cleanup_hook_handle handle, void* data) {
  (void)handle;
  tsgi_poll* poll = data;
  poll_close(poll->env, poll);
}

/*
 * A callback exception has no JS caller to land in; it is reported the way a throwing timer
 * callback is, through process 'uncaughtException'.
 */
static void report_uncaught(napi_env env) {
  napi_value error;
  if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
}

static void on_poll_event(uv_poll_t* handle, int status, int events) {
  tsgi_poll* poll = handle->data;
  napi_env env = poll->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;

  napi_value self = NULL, callback = NULL, argv[2];
  bool ready = napi_get_reference_value(env, poll->wrapper, &self) == napi_ok && self &&
               napi_get_reference_value(env, poll->callback, &callback) == napi_ok && callback &&
               napi_create_int32(env, status, &argv[0]) == napi_ok &&
               napi_create_int32(env, events, &argv[1]) == napi_ok;
  /* After reporting an error (POLLERR) libuv has already stopped the handle itself. */
  if (status < 0) poll_set_started(env, poll, false);
  if (ready) {
    poll->in_callback = true;
    napi_status result =
        napi_make_callback(env, poll->async_context, self, callback, 2, argv, NULL);
    poll->in_callback = false;
    if (result == napi_pending_exception) report_uncaught(env);
  }
  if (poll->closing) poll_release_js(env, poll);
  napi_close_handle_scope(env, scope);
}

/*
 * Runs when the JS object is garbage collected, or when the environment shuts down (after
 * poll_on_env_exit has closed the handle). The strong reference cannot be touched here: it is
 * the one being finalized.
 */
static void poll_finalize(napi_env env, void* data, void* hint) {
  (void)hint;
  tsgi_poll* poll = data;
  poll->started = false;
  napi_delete_reference(env, poll->wrapper);
  poll->wrapper = NULL;
  poll_close(env, poll);
  poll->finalized = true;
  if (poll->handle_closed) free(poll);
}

/*
 * Pairs a new poll handle with the JS object. Once uv_poll_init has succeeded the struct can
 * only be released through uv_close, so later failures close it instead of freeing it.
 */
static napi_value poll_attach(napi_env env, napi_value self, napi_value callback,
                              tsgi_poll* poll) {
  napi_value resource_name;
  /* The async resource is a fresh object, not the Poll: napi_async_init holds its resource
   * strongly, which would keep every Poll alive until close(). */
  if (napi_create_reference(env, callback, 1, &poll->callback) != napi_ok ||
      napi_create_string_utf8(env, "tsgi.Poll", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_async_init(env, NULL, resource_name, &poll->async_context) != napi_ok ||
      napi_add_async_cleanup_hook(env, poll_on_env_exit, poll, &poll->cleanup) != napi_ok ||
      napi_wrap(env, self, poll, poll_finalize, NULL, &poll->wrapper) != napi_ok) {
    napi_value result = napi_failed(env);
    poll->finalized = true; /* no JS object owns it */
    poll_close(env, poll);
    return result;
  }
  return self;
}

/* new Poll(fd, callback, ownFd = false) */
static napi_value poll_new(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self, new_target;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  CHECK(napi_get_new_target(env, info, &new_target));
  if (new_target == NULL) {
    napi_throw_type_error(env, "ERR_CONSTRUCT_CALL_REQUIRED",
                          "Class constructor Poll cannot be invoked without 'new'");
    return NULL;
  }
  int fd;
  bool own_fd = false;
  napi_valuetype own_fd_type;
  if (!get_fd(env, argv[0], &fd) ||
      !expect_type(env, argv[1], napi_function, "callback", "function")) {
    return NULL;
  }
  CHECK(napi_typeof(env, argv[2], &own_fd_type));
  if (own_fd_type != napi_undefined && !get_bool(env, argv[2], "ownFd", &own_fd)) return NULL;
  uv_loop_t* loop;
  CHECK(napi_get_uv_event_loop(env, &loop));

  char detail[32];
  snprintf(detail, sizeof detail, "fd %d", fd);
  /* libuv allows one watcher per fd number, and the fd may already be a net.Socket in this
   * process: a dup is a separate epoll registration on the same open file description.
   * (uv_poll_init sets O_NONBLOCK, which the dup shares with the original fd.) */
  int poll_fd = own_fd ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (poll_fd < 0) {
    throw_errno(env, errno, "dup", detail);
    return NULL;
  }
  tsgi_poll* poll = calloc(1, sizeof *poll);
  if (poll == NULL) {
    if (!own_fd) close(poll_fd);
    throw_errno(env, ENOMEM, "calloc", detail);
    return NULL;
  }
  int err = uv_poll_init(loop, &poll->handle, poll_fd);
  if (err != 0) {
    if (!own_fd) close(poll_fd);
    free(poll);
    throw_errno(env, -err, "uv_poll_init", detail);
    return NULL;
  }
  poll->handle.data = poll;
  poll->env = env;
  poll->fd = poll_fd;
  poll->original_fd = fd;
  poll->closes_fd = !own_fd;
  return poll_attach(env, self, argv[1], poll);
}

/* Unwraps `this`; throws on a foreign receiver (Poll.prototype.start.call({})). */
static tsgi_poll* poll_this(napi_env env, napi_callback_info info, size_t argc,
                            napi_value* argv) {
  napi_value self;
  void* data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_THIS", "Value of \"this\" must be of type Poll");
    return NULL;
  }
  return data;
}

static napi_value poll_start(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t events;
  tsgi_poll* poll = poll_this(env, info, 1, argv);
  if (poll == NULL) return NULL;
  if (poll->closing) {
    napi_throw_error(env, "ERR_INVALID_STATE", "Poll is closed");
    return NULL;
  }
  if (!get_int(env, argv[0], "events", 1, UV_READABLE | UV_WRITABLE, &events)) return NULL;
  int err = uv_poll_start(&poll->handle, (int)events, on_poll_event);
  if (err != 0) {
    char detail[32];
    snprintf(detail, sizeof detail, "fd %d", poll->original_fd);
    throw_errno(env, -err, "uv_poll_start", detail);
    return NULL;
  }
  poll_set_started(env, poll, true);
  return NULL;
}

static napi_value poll_stop(napi_env env, napi_callback_info info) {
  tsgi_poll* poll = poll_this(env, info, 0, NULL);
  if (poll == NULL || poll->closing) return NULL;
  uv_poll_stop(&poll->handle);
  poll_set_started(env, poll, false);
  return NULL;
}

static napi_value poll_close_method(napi_env env, napi_callback_info info) {
  tsgi_poll* poll = poll_this(env, info, 0, NULL);
  if (poll != NULL) poll_close(env, poll);
  return NULL;
}

static napi_value poll_ref(napi_env env, napi_callback_info info) {
  tsgi_poll* poll = poll_this(env, info, 0, NULL);
  if (poll != NULL && !poll->closing) uv_ref((uv_handle_t*)&poll->handle);
  return NULL;
}

static napi_value poll_unref(napi_env env, napi_callback_info info) {
  tsgi_poll* poll = poll_this(env, info, 0, NULL);
  if (poll != NULL && !poll->closing) uv_unref((uv_handle_t*)&poll->handle);
  return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * ConnServer: the uwsgi and HTTP connection path (accept, read, write, close) in C.
 *
 * Behind nginx every request is a new connection carrying one small packet, and net.Socket's
 * per-connection machinery costs more CPU than the request itself (and, for HTTP keep-alive and
 * long-polls, more than node:http's parsing). Here C owns the sockets; JS only sees
 * onData(fd, bytes | null) — an empty Buffer first when the client has sent nothing yet — and
 * onDrain(fd), and hands bytes to write()/end().
 *
 * The common case costs accept4 + read + send + close and no epoll registration at all: with
 * deferred accept the request is in by the time it is accepted, so the first read happens right
 * in the accept loop, and a synchronous app answers and ends the connection inside onData. A
 * connection that has to wait (no request yet, a queued response, keep-alive) joins the
 * server's own epoll set, which libuv watches as one fd: one epoll_ctl to join, none to leave
 * (close drops it), where a uv_poll_t per connection cost five syscalls (uv_poll_init's probe
 * ADD and DEL and FIONBIO, start, stop).
 *
 * Lifetime rules:
 *  - JS gets no callback for an fd after onData(fd, null), end(fd) or destroy(fd). The record
 *    leaves the fd table when the fd is closed, so a new connection may reuse the number at once.
 *  - After every call into JS the record's flags are checked again: the callback may have
 *    ended, destroyed or paused the connection, or paused/closed the server. A closed record is
 *    recycled (freelist) at once; no accept can run inside a callback, so a record is never
 *    reused while a caller up the stack still looks at it. Events carry the fd and the
 *    record's generation: a closed fd stays in the epoll set while a child forked in that
 *    instant still holds it, and its events must not reach a new connection on that number.
 *  - The struct is freed when every uv handle has closed AND the JS object is gone, as for Poll.
 *    The JS object is held strongly while started (until close()) or while connections are
 *    open; the keepalive handle keeps the loop alive while connections are open.
 *  - The callbacks are stored on the JS object itself (under a symbol) and only weakly
 *    referenced here, so a closure over the server is not a leak. Callbacks run only while the
 *    object is held strongly (there is a connection), so the functions are always there then.
 *  - An async cleanup hook closes every handle and connection when the environment (a worker
 *    thread) exits with the server still open.
 * ------------------------------------------------------------------------------------------- */

#define CONN_READ_SIZE 65536      /* one read per readiness event, into the server's scratch */
#define CONN_ACCEPT_BATCH 64      /* accepts per readiness event of the listening socket */
#define CONN_BACKOFF_MS 100       /* pause in accepting after EMFILE/ENFILE */
#define CONN_QUEUE_MIN 16384      /* first allocation of a write queue */
#define CONN_QUEUE_KEEP 65536     /* a recycled record keeps a queue buffer up to this size */
#define CONN_SERVER_MAGIC UINT64_C(0x7473676963736576) /* "tsgicsev": tells a ConnServer from a Poll */

typedef struct tsgi_conn_server tsgi_conn_server;

typedef struct tsgi_conn {
  tsgi_conn_server* server;
  struct tsgi_conn* next;       /* the freelist, or the server's pending list */
  char* queue;                  /* unsent bytes: [queue_start, queue_end) of queue_size */
  size_t queue_start, queue_end, queue_size;
  int fd;
  uint32_t generation;          /* tells this connection's epoll events from a predecessor's */
  int events;                   /* UV_READABLE | UV_WRITABLE in the epoll set now; 0 = not in it */
  bool open;                    /* false once the fd is closed */
  bool reading;                 /* not paused by pauseReading */
  bool ended;                   /* end(): JS is done with it; it closes once flushed */
  bool broken;                  /* a write failed: onData(fd, null) comes next */
  bool pending;                 /* on the server's pending list, waiting for that null */
} tsgi_conn;

struct tsgi_conn_server {
  uint64_t magic;
  uv_poll_t listen;             /* on listen_fd, our dup of the listening socket */
  uv_poll_t conn_events;        /* on epoll_fd: some connection in the set is ready */
  uv_timer_t backoff;           /* EMFILE/ENFILE: accepting resumes after CONN_BACKOFF_MS */
  uv_timer_t pending_timer;     /* zero delay: reports connections a failed write broke */
  uv_async_t keepalive;         /* never sent; ref'd while connections are open */
  uv_loop_t* loop;
  napi_env env;
  napi_ref wrapper;             /* weak; strong while started or connections are open */
  napi_ref on_data, on_drain;   /* weak: the JS object holds the functions */
  napi_async_context async_context;
  napi_async_cleanup_hook_handle cleanup;
  tsgi_conn** conns;            /* open connections, indexed by fd */
  size_t conns_size;
  tsgi_conn* free_records;
  tsgi_conn* pending;
  uint32_t connections;
  int listen_fd;
  int epoll_fd;                 /* the connections that wait for readiness */
  uint32_t generations;
  int handles_open;             /* the server's uv handles not yet closed */
  bool started, paused, closed, listening, backing_off, strong;
  bool in_accept_loop;           /* on_listen_event is running: the poll is updated at its end */
  bool handles_released;        /* pending_timer and keepalive are closing or closed */
  bool finalized;               /* no JS object owns the struct any more */
  char scratch[CONN_READ_SIZE];
};

static void conn_close(tsgi_conn_server* server, tsgi_conn* conn);
static void conn_update_poll(tsgi_conn_server* server, tsgi_conn* conn);
static void on_conn_events(uv_poll_t* handle, int status, int events);
static void on_listen_event(uv_poll_t* handle, int status, int events);

/* ----- handles and the struct's own lifetime ----- */

static void server_free(tsgi_conn_server* server) {
  while (server->free_records != NULL) {
    tsgi_conn* conn = server->free_records;
    server->free_records = conn->next;
    free(conn->queue);
    free(conn);
  }
  free(server->conns);
  free(server);
}

static void server_handle_closed(tsgi_conn_server* server) {
  if (--server->handles_open > 0) return;
  /* Tells an exiting environment that this server is done; harmless at any other time. */
  if (server->cleanup != NULL) {
    napi_remove_async_cleanup_hook(server->cleanup);
    server->cleanup = NULL;
  }
  if (server->finalized) server_free(server);
}

static void on_server_handle_closed(uv_handle_t* handle) { server_handle_closed(handle->data); }

static void on_listen_closed(uv_handle_t* handle) {
  tsgi_conn_server* server = handle->data;
  close(server->listen_fd); /* our dup: the caller's listenFd stays open */
  server_handle_closed(server);
}

static void conn_recycle(tsgi_conn_server* server, tsgi_conn* conn) {
  conn->next = server->free_records;
  server->free_records = conn;
}

static void on_conn_events_closed(uv_handle_t* handle) {
  tsgi_conn_server* server = handle->data;
  close(server->epoll_fd);
  server_handle_closed(server);
}

static void on_keepalive(uv_async_t* handle) { (void)handle; }

/* The strong reference mirrors "JS may still get callbacks or may still start accepting". */
static void server_update_strong(tsgi_conn_server* server) {
  bool wanted = (server->started && !server->closed) || server->connections > 0;
  if (wanted == server->strong || server->wrapper == NULL) return;
  server->strong = wanted;
  if (wanted) {
    napi_reference_ref(server->env, server->wrapper, NULL);
  } else {
    napi_reference_unref(server->env, server->wrapper, NULL);
  }
}

/* Called when the number of open connections becomes 1 or 0. */
static void server_connections_changed(tsgi_conn_server* server) {
  if (!server->handles_released) {
    if (server->connections > 0) {
      uv_ref((uv_handle_t*)&server->keepalive);
    } else {
      uv_unref((uv_handle_t*)&server->keepalive);
    }
  }
  server_update_strong(server);
}

/* ----- calls into JS ----- */

/* Reports a pending exception (if any) as uncaught; see report_uncaught. */
static void report_pending(napi_env env) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) report_uncaught(env);
}

static void server_call(tsgi_conn_server* server, napi_ref function_ref, size_t argc,
                        napi_value* argv) {
  napi_env env = server->env;
  napi_value self = NULL, function = NULL;
  if (function_ref == NULL || napi_get_reference_value(env, server->wrapper, &self) != napi_ok ||
      self == NULL || napi_get_reference_value(env, function_ref, &function) != napi_ok ||
      function == NULL) {
    return;
  }
  napi_status status =
      napi_make_callback(env, server->async_context, self, function, argc, argv, NULL);
  if (status == napi_pending_exception) report_uncaught(env);
}

static void conn_mark_broken(tsgi_conn_server* server, tsgi_conn* conn);

/* onData(fd, Buffer copy of bytes), or onData(fd, null) when bytes is NULL. */
static void conn_emit_data(tsgi_conn_server* server, tsgi_conn* conn, const char* bytes,
                           size_t length) {
  napi_env env = server->env;
  napi_value argv[2];
  napi_status status = napi_create_int32(env, conn->fd, &argv[0]);
  if (status == napi_ok) {
    status = bytes != NULL ? napi_create_buffer_copy(env, length, bytes, NULL, &argv[1])
                           : napi_get_null(env, &argv[1]);
  }
  if (status != napi_ok) {
    /* Out of memory for the Buffer: the bytes are lost, so the connection cannot go on. */
    report_pending(env);
    if (bytes != NULL) conn_mark_broken(server, conn);
    return;
  }
  server_call(server, server->on_data, 2, argv);
}

static void conn_emit_drain(tsgi_conn_server* server, tsgi_conn* conn) {
  napi_value argv[1];
  if (napi_create_int32(server->env, conn->fd, &argv[0]) == napi_ok) {
    server_call(server, server->on_drain, 1, argv);
  }
}

/* ----- connections ----- */

static bool conn_has_queue(const tsgi_conn* conn) { return conn->queue_end > conn->queue_start; }

static void pending_remove(tsgi_conn_server* server, tsgi_conn* conn) {
  for (tsgi_conn** link = &server->pending; *link != NULL; link = &(*link)->next) {
    if (*link == conn) {
      *link = conn->next;
      break;
    }
  }
  conn->next = NULL;
  conn->pending = false;
}

/* Closes the fd now, dropping any queue. No JS callback. */
static void conn_close(tsgi_conn_server* server, tsgi_conn* conn) {
  conn->open = false;
  server->conns[conn->fd] = NULL;
  if (conn->pending) pending_remove(server, conn);
  conn->queue_start = conn->queue_end = 0;
  if (conn->queue_size > CONN_QUEUE_KEEP) {
    free(conn->queue);
    conn->queue = NULL;
    conn->queue_size = 0;
  }
  /* Closing the fd also takes it out of the epoll set. Plain close, no shutdown(): as uWSGI
   * does, the queued bytes still go out, followed by a FIN. */
  close(conn->fd);
  conn_recycle(server, conn);
  if (--server->connections == 0) server_connections_changed(server);
}

/* The peer is gone: JS hears onData(fd, null) once, then the fd is closed (unless JS ended or
 * destroyed it inside that callback; an end() with bytes still queued flushes them first). */
static void conn_report_gone(tsgi_conn_server* server, tsgi_conn* conn) {
  conn_emit_data(server, conn, NULL, 0);
  if (conn->open && !conn->ended) conn_close(server, conn);
}

/* A failure seen from a libuv callback, where JS may be called at once. */
static void conn_fail(tsgi_conn_server* server, tsgi_conn* conn) {
  conn->broken = true;
  conn->queue_start = conn->queue_end = 0;
  if (conn->pending) pending_remove(server, conn);
  if (conn->ended) {
    conn_close(server, conn);
  } else {
    conn_report_gone(server, conn);
  }
}

static void on_pending_timer(uv_timer_t* timer) {
  tsgi_conn_server* server = timer->data;
  napi_handle_scope scope;
  if (napi_open_handle_scope(server->env, &scope) != napi_ok) return;
  while (server->pending != NULL) {
    tsgi_conn* conn = server->pending;
    server->pending = conn->next;
    conn->next = NULL;
    conn->pending = false;
    conn_report_gone(server, conn);
  }
  napi_close_handle_scope(server->env, scope);
}

/*
 * A failure seen inside a JS call (write): JS must not be re-entered from its own call, so the
 * null is reported from a zero-delay timer. The connection stops being watched meanwhile.
 */
static void conn_mark_broken(tsgi_conn_server* server, tsgi_conn* conn) {
  if (conn->broken) return;
  conn->broken = true;
  conn->queue_start = conn->queue_end = 0;
  if (conn->ended) {
    conn_close(server, conn);
    return;
  }
  conn_update_poll(server, conn);
  conn->pending = true;
  conn->next = server->pending;
  server->pending = conn;
  uv_timer_start(&server->pending_timer, on_pending_timer, 0, 0);
}

/*
 * Makes the epoll registration match the state: READABLE while JS reads, WRITABLE while bytes
 * are queued; out of the set when neither (EPOLLHUP and EPOLLERR would still be reported).
 * Level-triggered, as uv_poll is.
 */
static void conn_update_poll(tsgi_conn_server* server, tsgi_conn* conn) {
  int wanted = 0;
  if (!conn->broken) {
    if (conn->reading && !conn->ended) wanted |= UV_READABLE;
    if (conn_has_queue(conn)) wanted |= UV_WRITABLE;
  }
  if (wanted == conn->events) return;
  struct epoll_event event = {
      .events = ((wanted & UV_READABLE) ? EPOLLIN : 0) | ((wanted & UV_WRITABLE) ? EPOLLOUT : 0),
      .data.u64 = (uint64_t)conn->generation << 32 | (uint32_t)conn->fd,
  };
  int op = wanted == 0 ? EPOLL_CTL_DEL : conn->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  if (epoll_ctl(server->epoll_fd, op, conn->fd, &event) == 0) {
    conn->events = wanted;
  } else {
    conn->events = 0;
    conn_mark_broken(server, conn); /* cannot be watched (ENOSPC, ENOMEM…): give it up */
  }
}

/* One non-blocking read → onData(fd, bytes); EOF or an error → onData(fd, null) and close. */
/*
 * `first`: the read right after accept. A client that has sent nothing yet is reported too, with
 * an empty Buffer, so JS knows the connection exists and can time it out (--socket-timeout).
 */
static void conn_read(tsgi_conn_server* server, tsgi_conn* conn, bool first) {
  ssize_t n;
  do n = read(conn->fd, server->scratch, sizeof server->scratch);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    conn_emit_data(server, conn, server->scratch, (size_t)n);
    if (conn->open) conn_update_poll(server, conn);
  } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    if (first) {
      conn_emit_data(server, conn, server->scratch, 0);
      if (!conn->open) return;
    }
    conn_update_poll(server, conn);
  } else {
    conn_report_gone(server, conn);
  }
}

/* Sends what the queue holds; one send per WRITABLE event (level-triggered). */
static void conn_flush(tsgi_conn_server* server, tsgi_conn* conn) {
  size_t queued = conn->queue_end - conn->queue_start;
  ssize_t n;
  do n = send(conn->fd, conn->queue + conn->queue_start, queued, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) conn_fail(server, conn);
    return;
  }
  conn->queue_start += (size_t)n;
  if ((size_t)n < queued) return; /* the socket buffer is full again */
  conn->queue_start = conn->queue_end = 0;
  if (conn->ended) {
    conn_close(server, conn);
    return;
  }
  conn_update_poll(server, conn);
  if (!conn->broken) conn_emit_drain(server, conn);
}

static void conn_on_ready(tsgi_conn_server* server, tsgi_conn* conn, uint32_t events) {
  if (events & EPOLLERR) {
    conn_fail(server, conn);
    return;
  }
  /* A hang-up shows as whatever is watched: the read or send then meets the EOF or error. */
  if (events & EPOLLHUP) events |= EPOLLIN | EPOLLOUT;
  if ((events & EPOLLOUT) && conn_has_queue(conn)) conn_flush(server, conn);
  if ((events & EPOLLIN) && conn->open && conn->reading && !conn->ended && !conn->broken) {
    conn_read(server, conn, false);
  }
}

#define CONN_EVENTS_BATCH 256

/* The epoll set is readable: one non-blocking epoll_wait, then each ready connection. */
static void on_conn_events(uv_poll_t* handle, int status, int events) {
  (void)status;
  (void)events;
  tsgi_conn_server* server = handle->data;
  struct epoll_event ready[CONN_EVENTS_BATCH];
  int count;
  do count = epoll_wait(server->epoll_fd, ready, CONN_EVENTS_BATCH, 0);
  while (count < 0 && errno == EINTR);
  if (count <= 0) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(server->env, &scope) != napi_ok) return;
  for (int i = 0; i < count; i++) {
    uint32_t fd = (uint32_t)ready[i].data.u64;
    tsgi_conn* conn = fd < server->conns_size ? server->conns[fd] : NULL;
    /* Closed by an earlier callback of this batch, or a predecessor's event (see above). */
    if (conn == NULL || conn->generation != (uint32_t)(ready[i].data.u64 >> 32)) continue;
    conn_on_ready(server, conn, ready[i].events);
  }
  napi_close_handle_scope(server->env, scope);
}

/* Appends to the queue, growing it (doubling) or compacting it first as needed. */
static bool conn_enqueue(tsgi_conn* conn, const char* data, size_t length) {
  size_t queued = conn->queue_end - conn->queue_start;
  if (conn->queue_size - conn->queue_end < length) {
    if (conn->queue_start > 0) {
      memmove(conn->queue, conn->queue + conn->queue_start, queued);
      conn->queue_start = 0;
      conn->queue_end = queued;
    }
    if (conn->queue_size - queued < length) {
      size_t size = conn->queue_size > 0 ? conn->queue_size : CONN_QUEUE_MIN;
      while (size < queued + length) {
        if (size > SIZE_MAX / 2) return false;
        size *= 2;
      }
      char* grown = realloc(conn->queue, size);
      if (grown == NULL) return false;
      conn->queue = grown;
      conn->queue_size = size;
    }
  }
  memcpy(conn->queue + conn->queue_end, data, length);
  conn->queue_end += length;
  return true;
}

/* write(): true when nothing is left queued. A peer error never throws (see conn_mark_broken). */
static bool conn_write(tsgi_conn_server* server, tsgi_conn* conn, const char* data,
                       size_t length) {
  if (conn->broken) return false;
  size_t sent = 0;
  if (!conn_has_queue(conn)) {
    while (sent < length) {
      ssize_t n = send(conn->fd, data + sent, length - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent += (size_t)n;
        if (sent < length) break; /* a partial write means the buffer is full: queue the rest */
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else {
        conn_mark_broken(server, conn); /* EPIPE, ECONNRESET… */
        return false;
      }
    }
    if (sent == length) return true;
  }
  if (!conn_enqueue(conn, data + sent, length - sent)) {
    conn_mark_broken(server, conn); /* out of memory: the response cannot be completed */
    return false;
  }
  conn_update_poll(server, conn);
  return false;
}

static bool server_grow_table(tsgi_conn_server* server, size_t fd) {
  size_t size = server->conns_size > 0 ? server->conns_size : 1024;
  while (size <= fd) size *= 2;
  tsgi_conn** grown = realloc(server->conns, size * sizeof *grown);
  if (grown == NULL) return false;
  memset(grown + server->conns_size, 0, (size - server->conns_size) * sizeof *grown);
  server->conns = grown;
  server->conns_size = size;
  return true;
}

/* A freshly accepted fd: a record, then a read right away (the request is usually there). */
static void conn_open(tsgi_conn_server* server, int fd) {
  if ((size_t)fd >= server->conns_size && !server_grow_table(server, (size_t)fd)) {
    close(fd);
    return;
  }
  tsgi_conn* conn = server->free_records;
  if (conn != NULL) {
    server->free_records = conn->next;
  } else if ((conn = calloc(1, sizeof *conn)) == NULL) {
    close(fd);
    return;
  }
  conn->server = server;
  conn->next = NULL;
  conn->fd = fd;
  conn->generation = ++server->generations;
  conn->events = 0;
  conn->open = true;
  conn->reading = true;
  conn->ended = false;
  conn->broken = false;
  conn->pending = false;
  conn->queue_start = conn->queue_end = 0;
  server->conns[fd] = conn;
  if (server->connections++ == 0) server_connections_changed(server);
  conn_read(server, conn, true);
}

/* ----- the listening socket ----- */

static bool server_accepting(const tsgi_conn_server* server) {
  return server->started && !server->paused && !server->closed && !server->backing_off;
}

/*
 * Inside the accept loop a pause (all cores busy) and the resume that follows it are deferred to
 * the loop's end: libuv registers a restarted watcher only at the next epoll_wait, so stopping
 * and restarting it per connection cost two failing EPOLL_CTL_DELs per request.
 */
static int server_update_listen(tsgi_conn_server* server) {
  bool wanted = server_accepting(server);
  if (server->closed || server->in_accept_loop || wanted == server->listening) return 0;
  int err = wanted ? uv_poll_start(&server->listen, UV_READABLE, on_listen_event)
                   : uv_poll_stop(&server->listen);
  if (err == 0) server->listening = wanted;
  return err;
}

static void on_backoff_done(uv_timer_t* timer) {
  tsgi_conn_server* server = timer->data;
  server->backing_off = false;
  server_update_listen(server);
}

/* Out of fds (or a listening-socket error): stop watching for a while instead of spinning. */
static void server_back_off(tsgi_conn_server* server) {
  if (server->closed) return;
  server->backing_off = true;
  server_update_listen(server);
  uv_update_time(server->loop);
  uv_timer_start(&server->backoff, on_backoff_done, CONN_BACKOFF_MS, 0);
}

static void on_listen_event(uv_poll_t* handle, int status, int events) {
  (void)events;
  tsgi_conn_server* server = handle->data;
  if (status < 0) {
    server->listening = false; /* POLLERR: libuv has stopped the handle itself */
    server_back_off(server);
    return;
  }
  napi_handle_scope scope;
  if (napi_open_handle_scope(server->env, &scope) != napi_ok) return;
  /* server_accepting() is re-checked after each connection: its onData may pause or close. */
  server->in_accept_loop = true;
  for (int i = 0; i < CONN_ACCEPT_BATCH && server_accepting(server); i++) {
    int fd = accept4(server->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      conn_open(server, fd);
    } else if (errno == EINTR || errno == ECONNABORTED) {
      continue;
    } else {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        server_back_off(server);
      }
      break; /* EAGAIN: the backlog is empty, or another worker won the race */
    }
  }
  server->in_accept_loop = false;
  if (server_update_listen(server) != 0) server_back_off(server);
  napi_close_handle_scope(server->env, scope);
}

/* ----- teardown ----- */

static void server_close_listen(tsgi_conn_server* server) {
  if (server->closed) return;
  server->closed = true;
  server->listening = false;
  uv_close((uv_handle_t*)&server->listen, on_listen_closed);
  uv_close((uv_handle_t*)&server->backoff, on_server_handle_closed);
  server_update_strong(server);
}

static void server_release_js(tsgi_conn_server* server) {
  if (server->on_data != NULL) {
    napi_delete_reference(server->env, server->on_data);
    server->on_data = NULL;
  }
  if (server->on_drain != NULL) {
    napi_delete_reference(server->env, server->on_drain);
    server->on_drain = NULL;
  }
  if (server->async_context != NULL) {
    napi_async_destroy(server->env, server->async_context);
    server->async_context = NULL;
  }
  server_update_strong(server);
}

/* Closes everything, connections included, without calling JS. Idempotent. */
static void server_shutdown(tsgi_conn_server* server) {
  server_close_listen(server);
  for (size_t fd = 0; fd < server->conns_size && server->connections > 0; fd++) {
    if (server->conns[fd] != NULL) conn_close(server, server->conns[fd]);
  }
  if (!server->handles_released) {
    server->handles_released = true;
    uv_close((uv_handle_t*)&server->pending_timer, on_server_handle_closed);
    uv_close((uv_handle_t*)&server->keepalive, on_server_handle_closed);
    uv_close((uv_handle_t*)&server->conn_events, on_conn_events_closed);
  }
  server_release_js(server);
}

/* The environment (a worker thread) is exiting with this server still open. */
static void conn_server_on_env_exit(napi_async_cleanup_hook_handle handle, void* data) {
  (void)handle;
  server_shutdown(data);
}

/* The JS object was garbage collected (so: closed or never started, and no connections), or
 * the environment is shutting down after conn_server_on_env_exit. */
static void conn_server_finalize(napi_env env, void* data, void* hint) {
  (void)hint;
  tsgi_conn_server* server = data;
  server->strong = false;
  napi_delete_reference(env, server->wrapper);
  server->wrapper = NULL;
  server_shutdown(server);
  server->finalized = true;
  if (server->handles_open == 0) server_free(server);
}

/* ----- the JS class ----- */

/*
 * Pairs the handles with the JS object. The callbacks are kept in an array on the object under
 * a fresh symbol (non-writable, non-configurable), so they live exactly as long as the object.
 */
static napi_value conn_server_attach(napi_env env, napi_value self, napi_value on_data,
                                     napi_value on_drain, tsgi_conn_server* server) {
  napi_value resource_name, description, holder;
  napi_property_descriptor hold = {NULL, NULL, NULL, NULL, NULL, NULL, napi_default, NULL};
  if (napi_create_reference(env, on_data, 0, &server->on_data) != napi_ok ||
      napi_create_reference(env, on_drain, 0, &server->on_drain) != napi_ok ||
      napi_create_string_utf8(env, "tsgi.ConnServer callbacks", NAPI_AUTO_LENGTH,
                              &description) != napi_ok ||
      napi_create_symbol(env, description, &hold.name) != napi_ok ||
      napi_create_array_with_length(env, 2, &holder) != napi_ok ||
      napi_set_element(env, holder, 0, on_data) != napi_ok ||
      napi_set_element(env, holder, 1, on_drain) != napi_ok ||
      (hold.value = holder, napi_define_properties(env, self, 1, &hold)) != napi_ok ||
      napi_create_string_utf8(env, "tsgi.ConnServer", NAPI_AUTO_LENGTH, &resource_name) !=
          napi_ok ||
      napi_async_init(env, NULL, resource_name, &server->async_context) != napi_ok ||
      napi_add_async_cleanup_hook(env, conn_server_on_env_exit, server, &server->cleanup) !=
          napi_ok ||
      napi_wrap(env, self, server, conn_server_finalize, NULL, &server->wrapper) != napi_ok) {
    napi_value result = napi_failed(env);
    server->finalized = true; /* no JS object owns it */
    server_shutdown(server);
    return result;
  }
  return self;
}

/* new ConnServer(listenFd, onData, onDrain) */
static napi_value conn_server_new(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self, new_target;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  CHECK(napi_get_new_target(env, info, &new_target));
  if (new_target == NULL) {
    napi_throw_type_error(env, "ERR_CONSTRUCT_CALL_REQUIRED",
                          "Class constructor ConnServer cannot be invoked without 'new'");
    return NULL;
  }
  int fd;
  if (!get_fd(env, argv[0], &fd) ||
      !expect_type(env, argv[1], napi_function, "onData", "function") ||
      !expect_type(env, argv[2], napi_function, "onDrain", "function")) {
    return NULL;
  }
  uv_loop_t* loop;
  CHECK(napi_get_uv_event_loop(env, &loop));

  char detail[32];
  snprintf(detail, sizeof detail, "fd %d", fd);
  /* A dup, as for Poll: libuv allows one watcher per fd number, and closing the server must
   * leave the caller's listenFd open (the master owns it). */
  int listen_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (listen_fd < 0) {
    throw_errno(env, errno, "dup", detail);
    return NULL;
  }
  tsgi_conn_server* server = calloc(1, sizeof *server);
  if (server == NULL) {
    close(listen_fd);
    throw_errno(env, ENOMEM, "calloc", detail);
    return NULL;
  }
  int err = uv_poll_init(loop, &server->listen, listen_fd);
  if (err != 0) {
    close(listen_fd);
    free(server);
    throw_errno(env, -err, "uv_poll_init", detail);
    return NULL;
  }
  server->magic = CONN_SERVER_MAGIC;
  server->loop = loop;
  server->env = env;
  server->listen_fd = listen_fd;
  server->listen.data = server;
  uv_timer_init(loop, &server->backoff);
  uv_timer_init(loop, &server->pending_timer);
  server->backoff.data = server;
  server->pending_timer.data = server;
  server->handles_open = 3;
  err = uv_async_init(loop, &server->keepalive, on_keepalive);
  if (err != 0) {
    server->finalized = true;
    server->handles_released = true;
    server_close_listen(server);
    uv_close((uv_handle_t*)&server->pending_timer, on_server_handle_closed);
    throw_errno(env, -err, "uv_async_init", detail);
    return NULL;
  }
  server->keepalive.data = server;
  uv_unref((uv_handle_t*)&server->keepalive);
  server->handles_open = 4;
  /* The connections' epoll set; its watcher is unref'd (keepalive holds the loop instead). */
  bool watcher_initialized = false;
  server->conn_events.data = server;
  server->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (server->epoll_fd < 0) {
    err = -errno;
  } else if ((err = uv_poll_init(loop, &server->conn_events, server->epoll_fd)) == 0) {
    watcher_initialized = true;
    err = uv_poll_start(&server->conn_events, UV_READABLE, on_conn_events);
  }
  if (err != 0) {
    /* The other four handles' close callbacks free the struct (and the watcher's, if any). */
    if (watcher_initialized) {
      uv_close((uv_handle_t*)&server->conn_events, on_conn_events_closed);
      server->handles_open++;
    } else if (server->epoll_fd >= 0) {
      close(server->epoll_fd);
    }
    server->finalized = true;
    server->handles_released = true;
    server_close_listen(server);
    uv_close((uv_handle_t*)&server->pending_timer, on_server_handle_closed);
    uv_close((uv_handle_t*)&server->keepalive, on_server_handle_closed);
    throw_errno(env, -err, server->epoll_fd < 0 ? "epoll_create1" : "uv_poll_start", detail);
    return NULL;
  }
  uv_unref((uv_handle_t*)&server->conn_events);
  server->handles_open = 5;
  return conn_server_attach(env, self, argv[1], argv[2], server);
}

/* Unwraps `this`; throws on a foreign receiver (ConnServer.prototype.write.call(poll, …)). */
static tsgi_conn_server* server_this(napi_env env, napi_callback_info info, size_t argc,
                                     napi_value* argv) {
  napi_value self;
  void* data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || data == NULL ||
      ((tsgi_conn_server*)data)->magic != CONN_SERVER_MAGIC) {
    napi_throw_type_error(env, "ERR_INVALID_THIS", "Value of \"this\" must be of type ConnServer");
    return NULL;
  }
  return data;
}

/* The open connection on fd, or NULL with ERR_INVALID_ARG_VALUE thrown (unknown, ended). */
static tsgi_conn* conn_lookup(napi_env env, tsgi_conn_server* server, napi_value value) {
  int fd;
  if (!get_fd(env, value, &fd)) return NULL;
  tsgi_conn* conn = (size_t)fd < server->conns_size ? server->conns[fd] : NULL;
  if (conn != NULL && !conn->ended) return conn;
  char message[128];
  snprintf(message, sizeof message,
           "The argument 'fd' is not an open connection of this ConnServer. Received %d", fd);
  napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", message);
  return NULL;
}

static napi_value conn_server_start(napi_env env, napi_callback_info info) {
  tsgi_conn_server* server = server_this(env, info, 0, NULL);
  if (server == NULL) return NULL;
  if (server->closed) {
    napi_throw_error(env, "ERR_INVALID_STATE", "ConnServer is closed");
    return NULL;
  }
  server->started = true;
  int err = server_update_listen(server);
  if (err != 0) {
    server->started = false;
    throw_errno(env, -err, "uv_poll_start", NULL);
    return NULL;
  }
  server_update_strong(server);
  return NULL;
}

static napi_value conn_server_pause(napi_env env, napi_callback_info info) {
  tsgi_conn_server* server = server_this(env, info, 0, NULL);
  if (server == NULL) return NULL;
  server->paused = true;
  server_update_listen(server);
  return NULL;
}

static napi_value conn_server_resume(napi_env env, napi_callback_info info) {
  tsgi_conn_server* server = server_this(env, info, 0, NULL);
  if (server == NULL) return NULL;
  server->paused = false;
  int err = server_update_listen(server);
  if (err != 0) throw_errno(env, -err, "uv_poll_start", NULL);
  return NULL;
}

static napi_value conn_server_close(napi_env env, napi_callback_info info) {
  tsgi_conn_server* server = server_this(env, info, 0, NULL);
  if (server != NULL) server_close_listen(server);
  return NULL;
}

static napi_value conn_server_write(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  tsgi_conn_server* server = server_this(env, info, 2, argv);
  if (server == NULL) return NULL;
  tsgi_conn* conn = conn_lookup(env, server, argv[0]);
  const char* data;
  size_t length;
  if (conn == NULL || !get_buffer(env, argv[1], "data", &data, &length)) return NULL;
  napi_value result;
  CHECK(napi_get_boolean(env, conn_write(server, conn, data, length), &result));
  return result;
}

/* end(fd[, data]): `data` is written first, so a whole response costs JS one call. */
static napi_value conn_server_end(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  tsgi_conn_server* server = server_this(env, info, 2, argv);
  if (server == NULL) return NULL;
  tsgi_conn* conn = conn_lookup(env, server, argv[0]);
  if (conn == NULL) return NULL;
  napi_valuetype data_type;
  CHECK(napi_typeof(env, argv[1], &data_type));
  if (data_type != napi_undefined) {
    const char* data;
    size_t length;
    if (!get_buffer(env, argv[1], "data", &data, &length)) return NULL;
    conn_write(server, conn, data, length);
  }
  conn->ended = true;
  if (conn->broken || !conn_has_queue(conn)) {
    conn_close(server, conn);
  } else {
    conn_update_poll(server, conn); /* WRITABLE only: closes after the last queued byte */
  }
  return NULL;
}

static napi_value conn_server_destroy(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  tsgi_conn_server* server = server_this(env, info, 1, argv);
  if (server == NULL) return NULL;
  tsgi_conn* conn = conn_lookup(env, server, argv[0]);
  if (conn != NULL) conn_close(server, conn);
  return NULL;
}

static napi_value conn_server_set_reading(napi_env env, napi_callback_info info, bool reading) {
  napi_value argv[1];
  tsgi_conn_server* server = server_this(env, info, 1, argv);
  if (server == NULL) return NULL;
  tsgi_conn* conn = conn_lookup(env, server, argv[0]);
  if (conn == NULL) return NULL;
  conn->reading = reading;
  conn_update_poll(server, conn);
  return NULL;
}

static napi_value conn_server_pause_reading(napi_env env, napi_callback_info info) {
  return conn_server_set_reading(env, info, false);
}

static napi_value conn_server_resume_reading(napi_env env, napi_callback_info info) {
  return conn_server_set_reading(env, info, true);
}

static napi_value conn_server_connections(napi_env env, napi_callback_info info) {
  tsgi_conn_server* server = server_this(env, info, 0, NULL);
  if (server == NULL) return NULL;
  napi_value result;
  CHECK(napi_create_uint32(env, server->connections, &result));
  return result;
}

/* ref/unref act on the listening side only (the poll and its EMFILE back-off timer). */
static napi_value conn_server_set_ref(napi_env env, napi_callback_info info, bool ref) {
  tsgi_conn_server* server = server_this(env, info, 0, NULL);
  if (server == NULL) return NULL;
  if (!server->closed) {
    if (ref) {
      uv_ref((uv_handle_t*)&server->listen);
      uv_ref((uv_handle_t*)&server->backoff);
    } else {
      uv_unref((uv_handle_t*)&server->listen);
      uv_unref((uv_handle_t*)&server->backoff);
    }
  }
  return NULL;
}

static napi_value conn_server_ref(napi_env env, napi_callback_info info) {
  return conn_server_set_ref(env, info, true);
}

static napi_value conn_server_unref(napi_env env, napi_callback_info info) {
  return conn_server_set_ref(env, info, false);
}

/* ---------------------------------------------------------------------------------------------
 * Module
 * ------------------------------------------------------------------------------------------- */

#define METHOD(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL}

/* Functions are created one by one so each has a name in stack traces. */
static bool export_functions(napi_env env, napi_value exports) {
  static const struct {
    const char* name;
    napi_callback fn;
  } functions[] = {
      {"listenTcp", listen_tcp},
      {"listenUnix", listen_unix},
      {"connectUnix", connect_unix},
      {"accept", accept_connection},
      {"localAddress", local_address},
      {"peerAddress", peer_address},
      {"dup", dup_fd},
      {"close", close_fd},
      {"setNonBlocking", set_nonblocking_fd},
      {"raiseOpenFilesLimit", raise_open_files_limit},
      {"pipe", make_pipe},
      {"shmCreate", shm_create},
      {"shmOpenFile", shm_open_file},
      {"shmMap", shm_map},
      {"shmSync", shm_sync},
      {"tryLockFile", try_lock_file},
      {"pidAlive", pid_alive},
      {"exec", exec_program},
      {"futexWait", futex_wait},
      {"futexWake", futex_wake},
  };
  for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++) {
    napi_value fn;
    if (napi_create_function(env, functions[i].name, NAPI_AUTO_LENGTH, functions[i].fn, NULL,
                             &fn) != napi_ok ||
        napi_set_named_property(env, exports, functions[i].name, fn) != napi_ok) {
      return false;
    }
  }
  return true;
}

/* Context-aware (NAPI_MODULE_INIT), so worker threads can load the addon too. */
NAPI_MODULE_INIT() {
  napi_property_descriptor poll_methods[] = {
      METHOD("start", poll_start), METHOD("stop", poll_stop), METHOD("close", poll_close_method),
      METHOD("ref", poll_ref),     METHOD("unref", poll_unref),
  };
  napi_value poll_class, readable, writable;
  CHECK(napi_define_class(env, "Poll", NAPI_AUTO_LENGTH, poll_new, NULL,
                          sizeof poll_methods / sizeof poll_methods[0], poll_methods,
                          &poll_class));
  CHECK(napi_create_int32(env, UV_READABLE, &readable));
  CHECK(napi_create_int32(env, UV_WRITABLE, &writable));
  if (!export_functions(env, exports)) return napi_failed(env);
  CHECK(napi_set_named_property(env, exports, "Poll", poll_class));
  CHECK(napi_set_named_property(env, exports, "POLL_READABLE", readable));
  CHECK(napi_set_named_property(env, exports, "POLL_WRITABLE", writable));

  napi_property_descriptor conn_server_methods[] = {
      METHOD("start", conn_server_start),
      METHOD("pause", conn_server_pause),
      METHOD("resume", conn_server_resume),
      METHOD("close", conn_server_close),
      METHOD("write", conn_server_write),
      METHOD("end", conn_server_end),
      METHOD("destroy", conn_server_destroy),
      METHOD("pauseReading", conn_server_pause_reading),
      METHOD("resumeReading", conn_server_resume_reading),
      METHOD("ref", conn_server_ref),
      METHOD("unref", conn_server_unref),
      {"connections", NULL, NULL, conn_server_connections, NULL, NULL, napi_enumerable, NULL},
  };
  napi_value conn_server_class;
  CHECK(napi_define_class(env, "ConnServer", NAPI_AUTO_LENGTH, conn_server_new, NULL,
                          sizeof conn_server_methods / sizeof conn_server_methods[0],
                          conn_server_methods, &conn_server_class));
  CHECK(napi_set_named_property(env, exports, "ConnServer", conn_server_class));
  return exports;
}
