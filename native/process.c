/*
 * Processes: pidAlive (is a lock owner still running?), exec (replace this process image), and
 * setResourceLimit/resourceLimit (this process's rlimits: --limit-as, --max-fd).
 */
#include "tsgi.h"

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

/* pidAlive(pid) → boolean. EPERM (someone else's process) still means "exists". */
napi_value pid_alive(napi_env env, napi_callback_info info) {
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
 * process uses it once at start, to take V8 flags that only apply then. `keepFds` (optional)
 * lists further fds the new image keeps, such as a vassal's pipe to its Emperor.
 */
napi_value exec_program(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t keep_count = 0;
  bool keep_is_array = false;
  if (argc >= 3) CHECK(napi_is_array(env, argv[2], &keep_is_array));
  if (keep_is_array) CHECK(napi_get_array_length(env, argv[2], &keep_count));
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
    for (uint32_t i = 0; i < keep_count; i++) {
      napi_value item;
      int32_t fd = -1;
      if (napi_get_element(env, argv[2], i, &item) != napi_ok || napi_get_value_int32(env, item, &fd) != napi_ok || fd < 0) continue;
      int fd_flags = fcntl(fd, F_GETFD);
      if (fd_flags >= 0) fcntl(fd, F_SETFD, fd_flags & ~FD_CLOEXEC);
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

/* The resources tsgi limits, by the names runtime/native.ts gives them. */
static bool resource_by_name(napi_env env, napi_value value, int* resource) {
  char name[16];
  if (!get_string(env, value, "resource", "setrlimit", name, sizeof name)) return false;
  if (strcmp(name, "as") == 0) *resource = RLIMIT_AS;
  else if (strcmp(name, "nofile") == 0) *resource = RLIMIT_NOFILE;
  else {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "The \"resource\" argument must be 'as' or 'nofile'");
    return false;
  }
  return true;
}

/* A limit as JS sees it: a number of bytes or fds, Infinity for RLIM_INFINITY. */
static bool get_limit(napi_env env, napi_value value, const char* name, rlim_t* out) {
  double number;
  if (!expect_type(env, value, napi_number, name, "number")) return false;
  if (napi_get_value_double(env, value, &number) != napi_ok) {
    napi_failed(env);
    return false;
  }
  if (number != number || number < 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "a resource limit must be a number >= 0 or Infinity");
    return false;
  }
  *out = number >= 18446744073709551615.0 ? RLIM_INFINITY : (rlim_t)number;
  return true;
}

static napi_value limit_value(napi_env env, rlim_t limit) {
  napi_value result;
  if (napi_create_double(env, limit == RLIM_INFINITY ? 1.0 / 0.0 : (double)limit, &result) != napi_ok) return NULL;
  return result;
}

/*
 * setResourceLimit(resource, soft, hard): setrlimit() of this process, for --limit-as and
 * --max-fd. Each worker sets its own after Node started, because V8 reserves its address space
 * at start-up: a limit inherited from the master would have to leave room for that reservation
 * in every process, the master's included. Throws EPERM (raising a hard limit without root),
 * EINVAL (soft above hard).
 */
napi_value set_resource_limit(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int resource;
  struct rlimit limit;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!resource_by_name(env, argv[0], &resource) || !get_limit(env, argv[1], "soft", &limit.rlim_cur) ||
      !get_limit(env, argv[2], "hard", &limit.rlim_max)) {
    return NULL;
  }
  if (setrlimit(resource, &limit) != 0) throw_errno(env, errno, "setrlimit", NULL);
  return NULL;
}

/* resourceLimit(resource) → [soft, hard] of this process (Infinity: unlimited). */
napi_value get_resource_limit(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int resource;
  struct rlimit limit;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!resource_by_name(env, argv[0], &resource)) return NULL;
  if (getrlimit(resource, &limit) != 0) {
    throw_errno(env, errno, "getrlimit", NULL);
    return NULL;
  }
  napi_value pair, soft = limit_value(env, limit.rlim_cur), hard = limit_value(env, limit.rlim_max);
  if (soft == NULL || hard == NULL || napi_create_array_with_length(env, 2, &pair) != napi_ok ||
      napi_set_element(env, pair, 0, soft) != napi_ok || napi_set_element(env, pair, 1, hard) != napi_ok) {
    return napi_failed(env);
  }
  return pair;
}
