/*
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
 *  - pidAlive (process.c): a lock word holds its owner's pid; the others need to know when that
 *    owner died.
 *  - futexWait/futexWake: without FUTEX_PRIVATE_FLAG, so the kernel keys the wait queue on the
 *    shared page itself and processes mapping the same memfd or file wake each other.
 */
#include "tsgi.h"

/* shmCreate(name, size) → fd of a zero-filled anonymous memory file (close-on-exec). */
napi_value shm_create(napi_env env, napi_callback_info info) {
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
napi_value shm_open_file(napi_env env, napi_callback_info info) {
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
napi_value shm_map(napi_env env, napi_callback_info info) {
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
napi_value shm_sync(napi_env env, napi_callback_info info) {
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
 * tryLockFile(fd) → boolean: takes a non-blocking write lock on the whole file, or returns false
 * when another holder has it. An open-file-description lock (F_OFD_SETLK) rather than a classic
 * POSIX one: it belongs to this fd, so closing some other fd of the same file in this process
 * does not drop it, and two fds of one process conflict like two processes do. It still conflicts
 * with the classic fcntl locks real uWSGI takes. Closing the fd releases it.
 */
napi_value try_lock_file(napi_env env, napi_callback_info info) {
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
napi_value futex_wait(napi_env env, napi_callback_info info) {
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
napi_value futex_wake(napi_env env, napi_callback_info info) {
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
