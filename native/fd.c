/*
 * Plain fd helpers: dup, close, setNonBlocking, raiseOpenFilesLimit, pipe.
 */
#include "tsgi.h"

/* Sets or clears O_NONBLOCK; false (errno set) when fcntl fails. connectUnix uses it too. */
bool set_nonblocking(int fd, bool on) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return false;
  int wanted = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
  return wanted == flags || fcntl(fd, F_SETFL, wanted) == 0;
}

/* dup(fd): close-on-exec, so only fds passed explicitly in spawn's stdio reach children. */
napi_value dup_fd(napi_env env, napi_callback_info info) {
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
napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!get_fd(env, argv[0], &fd)) return NULL;
  if (close(fd) != 0 && errno != EINTR) throw_errno(env, errno, "close", NULL);
  return NULL;
}

napi_value set_nonblocking_fd(napi_env env, napi_callback_info info) {
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
napi_value raise_open_files_limit(napi_env env, napi_callback_info info) {
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
napi_value make_pipe(napi_env env, napi_callback_info info) {
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
