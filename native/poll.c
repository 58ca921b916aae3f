/*
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
 */
#include "tsgi.h"

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
napi_value poll_new(napi_env env, napi_callback_info info) {
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

napi_value poll_start(napi_env env, napi_callback_info info) {
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

napi_value poll_stop(napi_env env, napi_callback_info info) {
  tsgi_poll* poll = poll_this(env, info, 0, NULL);
  if (poll == NULL || poll->closing) return NULL;
  uv_poll_stop(&poll->handle);
  poll_set_started(env, poll, false);
  return NULL;
}

napi_value poll_close_method(napi_env env, napi_callback_info info) {
  tsgi_poll* poll = poll_this(env, info, 0, NULL);
  if (poll != NULL) poll_close(env, poll);
  return NULL;
}

napi_value poll_ref(napi_env env, napi_callback_info info) {
  tsgi_poll* poll = poll_this(env, info, 0, NULL);
  if (poll != NULL && !poll->closing) uv_ref((uv_handle_t*)&poll->handle);
  return NULL;
}

napi_value poll_unref(napi_env env, napi_callback_info info) {
  tsgi_poll* poll = poll_this(env, info, 0, NULL);
  if (poll != NULL && !poll->closing) uv_unref((uv_handle_t*)&poll->handle);
  return NULL;
}
