/*
 * Module: registers every function and class of the addon on `exports`.
 */
#include "tsgi.h"

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
      {"connectTcpNonBlocking", connect_tcp_nonblocking},
      {"connectUnixNonBlocking", connect_unix_nonblocking},
      {"accept", accept_connection},
      {"localAddress", local_address},
      {"peerAddress", peer_address},
      {"listenQueue", listen_queue},
      {"unixListenQueue", unix_listen_queue},
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
      {"setResourceLimit", set_resource_limit},
      {"resourceLimit", get_resource_limit},
      {"futexWait", futex_wait},
      {"futexWake", futex_wake},
      {"chroot", chroot_into},
      {"unshare", unshare_namespaces},
      {"lookupUser", lookup_user},
      {"lookupGroup", lookup_group},
      {"connectUnixDatagram", connect_unix_datagram},
      {"sendDatagram", send_datagram},
      {"bindUdp", bind_udp},
      {"socketError", socket_error},
      {"unixDgramSocket", unix_dgram_socket},
      {"unixDgramSend", unix_dgram_send},
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
      METHOD("adopt", conn_server_adopt),
      {"connections", NULL, NULL, conn_server_connections, NULL, NULL, napi_enumerable, NULL},
  };
  napi_value conn_server_class;
  CHECK(napi_define_class(env, "ConnServer", NAPI_AUTO_LENGTH, conn_server_new, NULL,
                          sizeof conn_server_methods / sizeof conn_server_methods[0],
                          conn_server_methods, &conn_server_class));
  CHECK(napi_set_named_property(env, exports, "ConnServer", conn_server_class));

#ifdef TSGI_HAVE_ZMQ
  napi_property_descriptor zmq_methods[] = {
      METHOD("setOption", zmq_socket_set_option), METHOD("connect", zmq_socket_connect),
      METHOD("fd", zmq_socket_fd),                METHOD("events", zmq_socket_events),
      METHOD("recvBatch", zmq_socket_recv_batch), METHOD("sendFrames", zmq_socket_send_frames),
      METHOD("monitor", zmq_socket_monitor_method), METHOD("close", zmq_socket_close),
  };
  napi_value zmq_class;
  CHECK(napi_define_class(env, "ZmqSocket", NAPI_AUTO_LENGTH, zmq_socket_new, NULL,
                          sizeof zmq_methods / sizeof zmq_methods[0], zmq_methods, &zmq_class));
  CHECK(napi_set_named_property(env, exports, "ZmqSocket", zmq_class));
#endif
  return exports;
}
