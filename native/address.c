/*
 * Addresses: sockaddr_un/sockaddr_in(6) built from JS arguments (exact-length unix names,
 * numeric hosts only), and the JS objects localAddress/peerAddress return.
 */
#include "tsgi.h"

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
bool make_unix_address(napi_env env, napi_value path, const char* syscall,
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
bool make_inet_address(napi_env env, napi_value host_value, int port,
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

napi_value inet_address_object(napi_env env, const struct sockaddr_storage* address) {
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
napi_value unix_address_object(napi_env env, const struct sockaddr_un* address,
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
