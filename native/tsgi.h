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
 *  - shared memory, pidAlive, futexWait/futexWake: the memory shared by master and workers (cache, queue, scoreboard)
 *    and the cross-process lock on it; Node can neither mmap nor futex-wait on such memory.
 *  - tryLockFile: the spooler's claim on a task file, an fcntl write lock that real uWSGI's
 *    spoolers (classic POSIX locks) respect too; Node has no fcntl.
 *  - unixListenQueue: a unix listener's backlog for the metrics; only sock_diag tells it.
 *  - ConnServer: the uwsgi and HTTP connection path (accept, read, write, close) in C, because
 *    net.Socket's per-connection machinery costs more CPU than a small request, and more memory
 *    than a parked long-poll.
 *
 * Only Node-API (node_api.h) and the libuv that Node itself exports are used.
 *
 * The units (all listed in binding.gyp), and what each one holds:
 *   tsgi.h         this overview, the includes, and what the units share
 *   errors.c       Node-style system errors, napi_failed, report_uncaught
 *   args.c         argument readers (get_int, get_fd, get_buffer, ...) and int_value
 *   address.c      unix/inet address building, address objects
 *   sockets.c      listenTcp, listenUnix, connectUnix, accept, localAddress, peerAddress,
 *                  listenQueue
 *   fd.c           dup, close, setNonBlocking, raiseOpenFilesLimit, pipe
 *   shm.c          shmCreate, shmOpenFile, shmMap, shmSync, tryLockFile, futexWait, futexWake
 *   process.c      pidAlive, exec, setResourceLimit, resourceLimit
 *   jail.c         chroot, unshare, lookupUser, lookupGroup
 *   poll.c         the Poll class
 *   dgram.c        unixDgramSocket, unixDgramSend (the syslog log target), connectUnixDatagram,
 *                  sendDatagram (systemd's notification socket)
 *   conn-server.c  the ConnServer class
 *   unix-diag.c    unixListenQueue
 *   router-sockets.c bindUdp (a router's subscription server socket), connectTcpNonBlocking,
 *                  connectUnixNonBlocking, socketError (a router's connects to its nodes)
 *   zmq.c          the ZmqSocket class (only with libzmq: TSGI_HAVE_ZMQ, see binding.gyp)
 *   module.c       the module init that registers all of the above
 *
 * Functions used by more than one unit are declared here, under their plain names. They stay
 * private to tsgi.node all the same: binding.gyp compiles with -fvisibility=hidden, so the addon
 * exports only Node-API's module entry points, as it did when everything was one file of
 * statics, and no call between units can bind to a same-named symbol of the node binary.
 */
#ifndef TSGI_H
#define TSGI_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4, pipe2, memfd_create, F_OFD_SETLK: before any system header */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

/* ----- errors.c ----- */

void throw_errno_text(napi_env env, int errnum, const char* syscall, const char* detail,
                      const char* text);
void throw_errno(napi_env env, int errnum, const char* syscall, const char* detail);
void close_and_throw(napi_env env, int fd, const char* syscall, const char* detail);
napi_value napi_failed(napi_env env);
void report_uncaught(napi_env env);

/* Returns from a napi_value function (with an exception pending) when a Node-API call fails. */
#define CHECK(call)                                    \
  do {                                                 \
    if ((call) != napi_ok) return napi_failed(env);    \
  } while (0)

/* ----- args.c ----- */

bool expect_type(napi_env env, napi_value value, napi_valuetype wanted, const char* name,
                 const char* type_name);
bool get_int(napi_env env, napi_value value, const char* name, double min, double max,
             int64_t* out);
bool get_fd(napi_env env, napi_value value, int* fd);
bool get_bool(napi_env env, napi_value value, const char* name, bool* out);
bool get_buffer(napi_env env, napi_value value, const char* name, const char** data,
                size_t* length);
bool get_size(napi_env env, napi_value value, const char* name, size_t* out);
bool get_string(napi_env env, napi_value value, const char* name, const char* syscall,
                char* out, size_t size);
napi_value int_value(napi_env env, int value);

/* ----- address.c ----- */

bool make_unix_address(napi_env env, napi_value path, const char* syscall,
                       struct sockaddr_un* address, socklen_t* length, char* display,
                       size_t display_size);
bool make_inet_address(napi_env env, napi_value host_value, int port,
                       struct sockaddr_storage* address, socklen_t* length, char* display,
                       size_t display_size);
napi_value inet_address_object(napi_env env, const struct sockaddr_storage* address);
napi_value unix_address_object(napi_env env, const struct sockaddr_un* address,
                               socklen_t length);

/* ----- fd.c ----- */

bool set_nonblocking(int fd, bool on);

/* ----- the functions and classes module.c exports ----- */

/* sockets.c */
napi_value listen_tcp(napi_env env, napi_callback_info info);
napi_value listen_unix(napi_env env, napi_callback_info info);
napi_value connect_unix(napi_env env, napi_callback_info info);
napi_value accept_connection(napi_env env, napi_callback_info info);
napi_value local_address(napi_env env, napi_callback_info info);
napi_value peer_address(napi_env env, napi_callback_info info);
napi_value listen_queue(napi_env env, napi_callback_info info);

/* unix-diag.c */
napi_value unix_listen_queue(napi_env env, napi_callback_info info);
/* ----- router-sockets.c ----- */

napi_value bind_udp(napi_env env, napi_callback_info info);
napi_value connect_tcp_nonblocking(napi_env env, napi_callback_info info);
napi_value connect_unix_nonblocking(napi_env env, napi_callback_info info);
napi_value socket_error(napi_env env, napi_callback_info info);

/* fd.c */
napi_value dup_fd(napi_env env, napi_callback_info info);
napi_value close_fd(napi_env env, napi_callback_info info);
napi_value set_nonblocking_fd(napi_env env, napi_callback_info info);
napi_value raise_open_files_limit(napi_env env, napi_callback_info info);
napi_value make_pipe(napi_env env, napi_callback_info info);

/* shm.c */
napi_value shm_create(napi_env env, napi_callback_info info);
napi_value shm_open_file(napi_env env, napi_callback_info info);
napi_value shm_map(napi_env env, napi_callback_info info);
napi_value shm_sync(napi_env env, napi_callback_info info);
napi_value try_lock_file(napi_env env, napi_callback_info info);
napi_value futex_wait(napi_env env, napi_callback_info info);
napi_value futex_wake(napi_env env, napi_callback_info info);

/* process.c */
napi_value pid_alive(napi_env env, napi_callback_info info);
napi_value exec_program(napi_env env, napi_callback_info info);
napi_value set_resource_limit(napi_env env, napi_callback_info info);
napi_value get_resource_limit(napi_env env, napi_callback_info info);

/* jail.c */
napi_value chroot_into(napi_env env, napi_callback_info info);
napi_value unshare_namespaces(napi_env env, napi_callback_info info);
napi_value lookup_user(napi_env env, napi_callback_info info);
napi_value lookup_group(napi_env env, napi_callback_info info);

/* dgram.c: the notification socket */
napi_value connect_unix_datagram(napi_env env, napi_callback_info info);
napi_value send_datagram(napi_env env, napi_callback_info info);
/* dgram.c */
napi_value unix_dgram_socket(napi_env env, napi_callback_info info);
napi_value unix_dgram_send(napi_env env, napi_callback_info info);

/* poll.c: the Poll class */
napi_value poll_new(napi_env env, napi_callback_info info);
napi_value poll_start(napi_env env, napi_callback_info info);
napi_value poll_stop(napi_env env, napi_callback_info info);
napi_value poll_close_method(napi_env env, napi_callback_info info);
napi_value poll_ref(napi_env env, napi_callback_info info);
napi_value poll_unref(napi_env env, napi_callback_info info);

/* conn-server.c: the ConnServer class */
napi_value conn_server_new(napi_env env, napi_callback_info info);
napi_value conn_server_start(napi_env env, napi_callback_info info);
napi_value conn_server_pause(napi_env env, napi_callback_info info);
napi_value conn_server_resume(napi_env env, napi_callback_info info);
napi_value conn_server_close(napi_env env, napi_callback_info info);
napi_value conn_server_write(napi_env env, napi_callback_info info);
napi_value conn_server_end(napi_env env, napi_callback_info info);
napi_value conn_server_destroy(napi_env env, napi_callback_info info);
napi_value conn_server_pause_reading(napi_env env, napi_callback_info info);
napi_value conn_server_resume_reading(napi_env env, napi_callback_info info);
napi_value conn_server_connections(napi_env env, napi_callback_info info);
napi_value conn_server_ref(napi_env env, napi_callback_info info);
napi_value conn_server_unref(napi_env env, napi_callback_info info);
napi_value conn_server_adopt(napi_env env, napi_callback_info info);

#ifdef TSGI_HAVE_ZMQ
/* zmq.c: the ZmqSocket class */
napi_value zmq_socket_new(napi_env env, napi_callback_info info);
napi_value zmq_socket_set_option(napi_env env, napi_callback_info info);
napi_value zmq_socket_connect(napi_env env, napi_callback_info info);
napi_value zmq_socket_fd(napi_env env, napi_callback_info info);
napi_value zmq_socket_monitor_method(napi_env env, napi_callback_info info);
napi_value zmq_socket_events(napi_env env, napi_callback_info info);
napi_value zmq_socket_recv_batch(napi_env env, napi_callback_info info);
napi_value zmq_socket_send_frames(napi_env env, napi_callback_info info);
napi_value zmq_socket_close(napi_env env, napi_callback_info info);
#endif

#endif /* TSGI_H */
