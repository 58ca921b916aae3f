/*
 * Argument readers: each throws a TypeError/RangeError with Node's codes and returns false.
 * Also int_value, the int32 result most functions return.
 */
#include "tsgi.h"

bool expect_type(napi_env env, napi_value value, napi_valuetype wanted, const char* name,
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
bool get_int(napi_env env, napi_value value, const char* name, double min, double max,
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

bool get_fd(napi_env env, napi_value value, int* fd) {
  int64_t number;
  if (!get_int(env, value, "fd", 0, INT32_MAX, &number)) return false;
  *fd = (int)number;
  return true;
}

bool get_bool(napi_env env, napi_value value, const char* name, bool* out) {
  return expect_type(env, value, napi_boolean, name, "boolean") &&
         napi_get_value_bool(env, value, out) == napi_ok;
}

bool get_buffer(napi_env env, napi_value value, const char* name, const char** data,
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

/* Sizes are JS numbers: integers up to 2^53 are exact, which covers any mapping we can make. */
#define MAX_SAFE_INTEGER 9007199254740991.0

bool get_size(napi_env env, napi_value value, const char* name, size_t* out) {
  int64_t number;
  if (!get_int(env, value, name, 1, MAX_SAFE_INTEGER, &number)) return false;
  *out = (size_t)number;
  return true;
}

/* Copies a JS string into `out`; a string that does not fit is an ENAMETOOLONG error. */
bool get_string(napi_env env, napi_value value, const char* name, const char* syscall,
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

napi_value int_value(napi_env env, int value) {
  napi_value result;
  CHECK(napi_create_int32(env, value, &result));
  return result;
}
