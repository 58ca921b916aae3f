/*
 * ZmqSocket: a libzmq socket driven from JS without a Promise per message, for the Mongrel2
 * handler (runtime/protocols/zmq/). zeromq.js 6.8 makes every receive() a Promise + Deferred
 * and every message an external Buffer with a weak finalizer; here one call takes every queued
 * message (up to a limit) and copies them into one Buffer the caller reuses, and one call sends
 * a whole multipart burst.
 *
 * Framing, both ways: each frame is [u32 little-endian word][bytes]; the word's low 31 bits are
 * the length and its top bit says "more frames of this message follow" (ZMQ_RCVMORE/SNDMORE).
 *
 * Readiness: ZMQ_FD is edge-triggered (it signals command arrival, not message arrival), so the
 * caller polls it with a Poll and, after each wake-up, calls recvBatch until it returns 0
 * (EAGAIN). Everything here is non-blocking (ZMQ_DONTWAIT).
 *
 * Compiled only when libzmq's headers are found (binding.gyp's tsgi_zmq); without it the addon
 * has no ZmqSocket and the handler falls back to zeromq.js.
 */
#include "tsgi.h"

#include <zmq.h>

#define LENGTH_MASK 0x7fffffffu
#define MORE_FLAG 0x80000000u

typedef struct {
  void* socket;
  /* A message taken out of the socket that did not fit the caller's buffer (or is cut short
   * by EINTR): its frames stay here until the next recvBatch. */
  zmq_msg_t* pending;
  size_t pending_count;
  size_t pending_capacity;
  size_t pending_bytes;
  bool pending_complete;
} tsgi_zmq;

/* One context per process, as zeromq.js and pyzmq have: sockets of all threads share it. */
static void* shared_context(void) {
  static void* context = NULL;
  if (context == NULL) context = zmq_ctx_new();
  return context;
}

static void throw_zmq(napi_env env, const char* call, const char* detail) {
  int errnum = zmq_errno();
  throw_errno_text(env, errnum, call, detail, zmq_strerror(errnum));
}

static void drop_pending(tsgi_zmq* zmq) {
  for (size_t i = 0; i < zmq->pending_count; i++) zmq_msg_close(&zmq->pending[i]);
  zmq->pending_count = 0;
  zmq->pending_bytes = 0;
  zmq->pending_complete = false;
}

static void zmq_close_socket(tsgi_zmq* zmq) {
  drop_pending(zmq);
  if (zmq->socket != NULL) zmq_close(zmq->socket);
  zmq->socket = NULL;
}

static void zmq_finalize(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  tsgi_zmq* zmq = data;
  zmq_close_socket(zmq);
  free(zmq->pending);
  free(zmq);
}

/* new ZmqSocket(type): type is a ZMQ_* socket type (ZMQ_PULL, ZMQ_XPUB, ...). */
napi_value zmq_socket_new(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], self;
  int64_t type;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  if (!get_int(env, argv[0], "type", 0, 64, &type)) return NULL;
  void* context = shared_context();
  if (context == NULL) {
    throw_zmq(env, "zmq_ctx_new", NULL);
    return NULL;
  }
  tsgi_zmq* zmq = calloc(1, sizeof *zmq);
  if (zmq == NULL) {
    throw_errno(env, ENOMEM, "calloc", NULL);
    return NULL;
  }
  zmq->socket = zmq_socket(context, (int)type);
  if (zmq->socket == NULL) {
    free(zmq);
    throw_zmq(env, "zmq_socket", NULL);
    return NULL;
  }
  if (napi_wrap(env, self, zmq, zmq_finalize, NULL, NULL) != napi_ok) {
    zmq_close(zmq->socket);
    free(zmq);
    return napi_failed(env);
  }
  return self;
}

/* Unwraps `this`; throws on a foreign receiver or once the socket is closed. */
static tsgi_zmq* zmq_this(napi_env env, napi_callback_info info, size_t argc, napi_value* argv) {
  napi_value self;
  void* data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_THIS", "Value of \"this\" must be of type ZmqSocket");
    return NULL;
  }
  tsgi_zmq* zmq = data;
  if (zmq->socket == NULL) {
    napi_throw_error(env, "ERR_INVALID_STATE", "ZmqSocket is closed");
    return NULL;
  }
  return zmq;
}

/* setOption(option, value): an int option for a number, a binary option for a string. */
napi_value zmq_socket_set_option(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  tsgi_zmq* zmq = zmq_this(env, info, 2, argv);
  if (zmq == NULL) return NULL;
  int64_t option;
  if (!get_int(env, argv[0], "option", 0, 1000, &option)) return NULL;
  napi_valuetype type;
  CHECK(napi_typeof(env, argv[1], &type));
  int rc;
  if (type == napi_string) {
    char value[256];
    if (!get_string(env, argv[1], "value", "zmq_setsockopt", value, sizeof value)) return NULL;
    rc = zmq_setsockopt(zmq->socket, (int)option, value, strlen(value));
  } else {
    int64_t number;
    if (!get_int(env, argv[1], "value", INT32_MIN, INT32_MAX, &number)) return NULL;
    int value = (int)number;
    rc = zmq_setsockopt(zmq->socket, (int)option, &value, sizeof value);
  }
  if (rc != 0) throw_zmq(env, "zmq_setsockopt", NULL);
  return NULL;
}

napi_value zmq_socket_connect(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char endpoint[512];
  tsgi_zmq* zmq = zmq_this(env, info, 1, argv);
  if (zmq == NULL || !get_string(env, argv[0], "endpoint", "zmq_connect", endpoint, sizeof endpoint)) {
    return NULL;
  }
  if (zmq_connect(zmq->socket, endpoint) != 0) throw_zmq(env, "zmq_connect", endpoint);
  return NULL;
}

/* monitor(endpoint, events): zmq_socket_monitor; read the events with a ZMQ_PAIR connected to it. */
napi_value zmq_socket_monitor_method(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char endpoint[256];
  int64_t events;
  tsgi_zmq* zmq = zmq_this(env, info, 2, argv);
  if (zmq == NULL || !get_string(env, argv[0], "endpoint", "zmq_socket_monitor", endpoint, sizeof endpoint) ||
      !get_int(env, argv[1], "events", 0, 0xffff, &events)) {
    return NULL;
  }
  if (zmq_socket_monitor(zmq->socket, endpoint, (int)events) != 0) throw_zmq(env, "zmq_socket_monitor", endpoint);
  return NULL;
}

/* fd(): ZMQ_FD, to poll for readability (edge-triggered: see the top of this file). */
napi_value zmq_socket_fd(napi_env env, napi_callback_info info) {
  tsgi_zmq* zmq = zmq_this(env, info, 0, NULL);
  if (zmq == NULL) return NULL;
  int fd;
  size_t size = sizeof fd;
  if (zmq_getsockopt(zmq->socket, ZMQ_FD, &fd, &size) != 0) {
    throw_zmq(env, "zmq_getsockopt", "ZMQ_FD");
    return NULL;
  }
  return int_value(env, fd);
}

/* events(): ZMQ_EVENTS (ZMQ_POLLIN | ZMQ_POLLOUT); it also processes pending commands. */
napi_value zmq_socket_events(napi_env env, napi_callback_info info) {
  tsgi_zmq* zmq = zmq_this(env, info, 0, NULL);
  if (zmq == NULL) return NULL;
  int events;
  size_t size = sizeof events;
  if (zmq_getsockopt(zmq->socket, ZMQ_EVENTS, &events, &size) != 0) {
    throw_zmq(env, "zmq_getsockopt", "ZMQ_EVENTS");
    return NULL;
  }
  return int_value(env, events);
}

/* Takes the frames of the next message into `pending`; false on EAGAIN/EINTR or an error. */
static bool take_message(tsgi_zmq* zmq) {
  while (!zmq->pending_complete) {
    if (zmq->pending_count == zmq->pending_capacity) {
      size_t capacity = zmq->pending_capacity == 0 ? 4 : zmq->pending_capacity * 2;
      zmq_msg_t* grown = realloc(zmq->pending, capacity * sizeof *grown);
      if (grown == NULL) {
        errno = ENOMEM;
        return false;
      }
      zmq->pending = grown;
      zmq->pending_capacity = capacity;
    }
    zmq_msg_t* frame = &zmq->pending[zmq->pending_count];
    zmq_msg_init(frame);
    if (zmq_msg_recv(frame, zmq->socket, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(frame);
      return false;
    }
    zmq->pending_count++;
    zmq->pending_bytes += 4 + zmq_msg_size(frame);
    zmq->pending_complete = !zmq_msg_more(frame);
  }
  return true;
}

static void put_word(char* at, uint32_t word) {
  at[0] = (char)(word & 0xff);
  at[1] = (char)((word >> 8) & 0xff);
  at[2] = (char)((word >> 16) & 0xff);
  at[3] = (char)(word >> 24);
}

/*
 * recvBatch(buffer, maxMessages): copies up to maxMessages whole messages into `buffer` (see the
 * framing above) and returns how many; 0 once the socket has none (EAGAIN). A message too big
 * for the whole buffer returns -(bytes it needs): it stays here for a call with a bigger buffer.
 */
napi_value zmq_socket_recv_batch(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  tsgi_zmq* zmq = zmq_this(env, info, 2, argv);
  const char* data;
  size_t capacity;
  int64_t max;
  if (zmq == NULL || !get_buffer(env, argv[0], "buffer", &data, &capacity) ||
      !get_int(env, argv[1], "maxMessages", 1, INT32_MAX, &max)) {
    return NULL;
  }
  char* out = (char*)data;
  size_t used = 0;
  int count = 0;
  while (count < max) {
    if (!take_message(zmq)) {
      int errnum = zmq_errno();
      if (errnum == EAGAIN || errnum == EINTR) break;
      if (count > 0) break; /* reported by the next call, after these are handled */
      throw_zmq(env, "zmq_msg_recv", NULL);
      return NULL;
    }
    if (used + zmq->pending_bytes > capacity) {
      if (count > 0) break;
      if (zmq->pending_bytes > INT32_MAX) {
        drop_pending(zmq);
        throw_errno(env, EMSGSIZE, "zmq_msg_recv", NULL);
        return NULL;
      }
      return int_value(env, -(int)zmq->pending_bytes);
    }
    for (size_t i = 0; i < zmq->pending_count; i++) {
      zmq_msg_t* frame = &zmq->pending[i];
      size_t size = zmq_msg_size(frame);
      put_word(out + used, (uint32_t)size | (i + 1 < zmq->pending_count ? MORE_FLAG : 0));
      memcpy(out + used + 4, zmq_msg_data(frame), size);
      used += 4 + size;
      zmq_msg_close(frame);
    }
    zmq->pending_count = 0;
    zmq->pending_bytes = 0;
    zmq->pending_complete = false;
    count++;
  }
  return int_value(env, count);
}

/*
 * sendFrames(buffer, length): sends the frames in buffer[0, length) as ONE multipart message
 * (every frame but the last with ZMQ_SNDMORE; a frame's own MORE bit is ignored), so libzmq
 * flushes its pipe and wakes its I/O thread once per burst. Throws on EAGAIN like any error: the
 * handler's PUB has no high-water mark, so a send can only fail when the socket is broken.
 */
napi_value zmq_socket_send_frames(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  tsgi_zmq* zmq = zmq_this(env, info, 2, argv);
  const char* data;
  size_t capacity;
  int64_t length;
  if (zmq == NULL || !get_buffer(env, argv[0], "buffer", &data, &capacity) ||
      !get_int(env, argv[1], "length", 0, (double)capacity, &length)) {
    return NULL;
  }
  const unsigned char* at = (const unsigned char*)data;
  const unsigned char* end = at + length;
  while (at + 4 <= end) {
    uint32_t size = (at[0] | (uint32_t)at[1] << 8 | (uint32_t)at[2] << 16 | (uint32_t)at[3] << 24) & LENGTH_MASK;
    if ((size_t)(end - at - 4) < size) break;
    bool last = at + 4 + size == end;
    if (zmq_send(zmq->socket, at + 4, size, ZMQ_DONTWAIT | (last ? 0 : ZMQ_SNDMORE)) < 0) {
      throw_zmq(env, "zmq_send", NULL);
      return NULL;
    }
    at += 4 + size;
  }
  if (at != end) napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "sendFrames: a frame runs past `length`");
  return NULL;
}

/* close(): idempotent; the socket lingers as set by ZMQ_LINGER. */
napi_value zmq_socket_close(napi_env env, napi_callback_info info) {
  napi_value self;
  void* data = NULL;
  CHECK(napi_get_cb_info(env, info, NULL, NULL, &self, NULL));
  if (napi_unwrap(env, self, &data) == napi_ok && data != NULL) zmq_close_socket(data);
  return NULL;
}
