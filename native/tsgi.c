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
 *
 * Only Node-API (node_api.h) and the libuv that Node itself exports are used.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
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

/* listenTcp(host, port, backlog) → fd */
static napi_value listen_tcp(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t port, backlog;
  if (!get_int(env, argv[1], "port", 0, 65535, &port) ||
      !get_int(env, argv[2], "backlog", 0, INT32_MAX, &backlog)) {
    return NULL;
  }
  struct sockaddr_storage address;
  socklen_t length;
  char display[96];
  if (!make_inet_address(env, argv[0], (int)port, &address, &length, display, sizeof display)) {
    return NULL;
  }
  int fd = bind_and_listen(env, (struct sockaddr*)&address, length, (int)backlog, display);
  return fd < 0 ? NULL : int_value(env, fd);
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
static napi_value local_address(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_fd(env, argv[0], &fd)) return NULL;
  struct sockaddr_storage address;
  socklen_t length = sizeof address;
  if (getsockname(fd, (struct sockaddr*)&address, &length) != 0) {
    throw_errno(env, errno, "getsockname", NULL);
    return NULL;
  }
  switch (address.ss_family) {
    case AF_INET:
    case AF_INET6:
      return inet_address_object(env, &address);
    case AF_UNIX:
      return unix_address_object(env, (struct sockaddr_un*)&address, length);
    default:
      throw_errno(env, EAFNOSUPPORT, "getsockname", NULL);
      return NULL;
  }
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
      {"dup", dup_fd},
      {"close", close_fd},
      {"setNonBlocking", set_nonblocking_fd},
      {"raiseOpenFilesLimit", raise_open_files_limit},
      {"pipe", make_pipe},
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
  return exports;
}
