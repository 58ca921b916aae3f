/*
 * Errors: Node-style system errors from an errno, the fallback for a failed Node-API call, and
 * the report of an exception thrown by a callback that has no JS caller.
 */
#include "tsgi.h"

/*
 * Throws an Error shaped like Node's own system errors (.code, .errno, .syscall) so callers can
 * switch on `.code` exactly as they do for net and fs errors. The message reads
 * "<syscall> <detail>: <CODE> (<text>)". libuv's names are used because on Unix UV_E* == -errno,
 * and the _r variants because uv_err_name() leaks a string for unknown errnos.
 */
void throw_errno_text(napi_env env, int errnum, const char* syscall, const char* detail,
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

void throw_errno(napi_env env, int errnum, const char* syscall, const char* detail) {
  throw_errno_text(env, errnum, syscall, detail, NULL);
}

/* Closes a half-set-up fd without losing the errno that explains the failure. */
void close_and_throw(napi_env env, int fd, const char* syscall, const char* detail) {
  int saved = errno;
  close(fd);
  throw_errno(env, saved, syscall, detail);
}

/*
 * A failed Node-API call usually leaves an exception pending; when it does not (invalid
 * argument, engine failure) this throws one so JS never sees a silent `undefined`.
 */
napi_value napi_failed(napi_env env) {
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

/*
 * A callback exception has no JS caller to land in; it is reported the way a throwing timer
 * callback is, through process 'uncaughtException'.
 */
void report_uncaught(napi_env env) {
  napi_value error;
  if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
}
