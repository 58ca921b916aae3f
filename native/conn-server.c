/*
 * ConnServer: the uwsgi and HTTP connection path (accept, read, write, close) in C.
 *
 * Behind nginx every request is a new connection carrying one small packet, and net.Socket's
 * per-connection machinery costs more CPU than the request itself (and, for HTTP keep-alive and
 * long-polls, more than node:http's parsing). Here C owns the sockets; JS only sees
 * onData(fd, bytes | null) — an empty Buffer first when the client has sent nothing yet — and
 * onDrain(fd), and hands bytes to write()/end().
 *
 * The common case costs accept4 + read + send + close and no epoll registration at all: with
 * deferred accept the request is in by the time it is accepted, so the first read happens right
 * in the accept loop, and a synchronous app answers and ends the connection inside onData. A
 * connection that has to wait (no request yet, a queued response, keep-alive) joins the
 * server's own epoll set, which libuv watches as one fd: one epoll_ctl to join, none to leave
 * (close drops it), where a uv_poll_t per connection cost five syscalls (uv_poll_init's probe
 * ADD and DEL and FIONBIO, start, stop).
 *
 * Lifetime rules:
 *  - JS gets no callback for an fd after onData(fd, null), end(fd) or destroy(fd). The record
 *    leaves the fd table when the fd is closed, so a new connection may reuse the number at once.
 *  - After every call into JS the record's flags are checked again: the callback may have
 *    ended, destroyed or paused the connection, or paused/closed the server. A closed record is
 *    recycled (freelist) at once; no accept can run inside a callback, so a record is never
 *    reused while a caller up the stack still looks at it. Events carry the fd and the
 *    record's generation: a closed fd stays in the epoll set while a child forked in that
 *    instant still holds it, and its events must not reach a new connection on that number.
 *  - The struct is freed when every uv handle has closed AND the JS object is gone, as for Poll.
 *    The JS object is held strongly while started (until close()) or while connections are
 *    open; the keepalive handle keeps the loop alive while connections are open.
 *  - The callbacks are stored on the JS object itself (under a symbol) and only weakly
 *    referenced here, so a closure over the server is not a leak. Callbacks run only while the
 *    object is held strongly (there is a connection), so the functions are always there then.
 *  - An async cleanup hook closes every handle and connection when the environment (a worker
 *    thread) exits with the server still open.
 */
#include "tsgi.h"

#define CONN_READ_SIZE 65536      /* one read per readiness event, into the server's scratch */
#define CONN_ACCEPT_BATCH 64      /* accepts per readiness event of the listening socket */
#define CONN_BACKOFF_MS 100       /* pause in accepting after EMFILE/ENFILE */
#define CONN_QUEUE_MIN 16384      /* first allocation of a write queue */
#define CONN_QUEUE_KEEP 65536     /* a recycled record keeps a queue buffer up to this size */
#define CONN_SERVER_MAGIC UINT64_C(0x7473676963736576) /* "tsgicsev": tells a ConnServer from a Poll */

typedef struct tsgi_conn_server tsgi_conn_server;

typedef struct tsgi_conn {
  tsgi_conn_server* server;
  struct tsgi_conn* next;       /* the freelist, or the server's pending list */
  char* queue;                  /* unsent bytes: [queue_start, queue_end) of queue_size */
  size_t queue_start, queue_end, queue_size;
  int fd;
  uint32_t generation;          /* tells this connection's epoll events from a predecessor's */
  int events;                   /* UV_READABLE | UV_WRITABLE in the epoll set now; 0 = not in it */
  bool open;                    /* false once the fd is closed */
  bool reading;                 /* not paused by pauseReading */
  bool ended;                   /* end(): JS is done with it; it closes once flushed */
  bool broken;                  /* a write failed: onData(fd, null) comes next */
  bool pending;                 /* on the server's pending list, waiting for that null */
  bool adopted;                 /* connected by this process (adopt): a node, not a client */
  bool write_closed;            /* adopted: the peer stopped reading; writes are dropped, reads go on */
} tsgi_conn;

struct tsgi_conn_server {
  uint64_t magic;
  uv_poll_t listen;             /* on listen_fd, our dup of the listening socket */
  uv_poll_t conn_events;        /* on epoll_fd: some connection in the set is ready */
  uv_timer_t backoff;           /* EMFILE/ENFILE: accepting resumes after CONN_BACKOFF_MS */
  uv_timer_t pending_timer;     /* zero delay: reports connections a failed write broke */
  uv_async_t keepalive;         /* never sent; ref'd while connections are open */
  uv_loop_t* loop;
  napi_env env;
  napi_ref wrapper;             /* weak; strong while started or connections are open */
  napi_ref on_data, on_drain;   /* weak: the JS object holds the functions */
  napi_async_context async_context;
  napi_async_cleanup_hook_handle cleanup;
  tsgi_conn** conns;            /* open connections, indexed by fd */
  size_t conns_size;
  tsgi_conn* free_records;
  tsgi_conn* pending;
  uint32_t connections;
  int listen_fd;
  int epoll_fd;                 /* the connections that wait for readiness */
  uint32_t generations;
  int handles_open;             /* the server's uv handles not yet closed */
  bool started, paused, closed, listening, backing_off, strong;
  bool in_accept_loop;           /* on_listen_event is running: the poll is updated at its end */
  bool handles_released;        /* pending_timer and keepalive are closing or closed */
  bool finalized;               /* no JS object owns the struct any more */
  char scratch[CONN_READ_SIZE];
};

static void conn_close(tsgi_conn_server* server, tsgi_conn* conn);
static void conn_update_poll(tsgi_conn_server* server, tsgi_conn* conn);
static void on_conn_events(uv_poll_t* handle, int status, int events);
static void on_listen_event(uv_poll_t* handle, int status, int events);

/* ----- handles and the struct's own lifetime ----- */

static void server_free(tsgi_conn_server* server) {
  while (server->free_records != NULL) {
    tsgi_conn* conn = server->free_records;
    server->free_records = conn->next;
    free(conn->queue);
    free(conn);
  }
  free(server->conns);
  free(server);
}

static void server_handle_closed(tsgi_conn_server* server) {
  if (--server->handles_open > 0) return;
  /* Tells an exiting environment that this server is done; harmless at any other time. */
  if (server->cleanup != NULL) {
    napi_remove_async_cleanup_hook(server->cleanup);
    server->cleanup = NULL;
  }
  if (server->finalized) server_free(server);
}

static void on_server_handle_closed(uv_handle_t* handle) { server_handle_closed(handle->data); }

static void on_listen_closed(uv_handle_t* handle) {
  tsgi_conn_server* server = handle->data;
  close(server->listen_fd); /* our dup: the caller's listenFd stays open */
  server_handle_closed(server);
}

static void conn_recycle(tsgi_conn_server* server, tsgi_conn* conn) {
  conn->next = server->free_records;
  server->free_records = conn;
}

static void on_conn_events_closed(uv_handle_t* handle) {
  tsgi_conn_server* server = handle->data;
  close(server->epoll_fd);
  server_handle_closed(server);
}

static void on_keepalive(uv_async_t* handle) { (void)handle; }

/* The strong reference mirrors "JS may still get callbacks or may still start accepting". */
static void server_update_strong(tsgi_conn_server* server) {
  bool wanted = (server->started && !server->closed) || server->connections > 0;
  if (wanted == server->strong || server->wrapper == NULL) return;
  server->strong = wanted;
  if (wanted) {
    napi_reference_ref(server->env, server->wrapper, NULL);
  } else {
    napi_reference_unref(server->env, server->wrapper, NULL);
  }
}

/* Called when the number of open connections becomes 1 or 0. */
static void server_connections_changed(tsgi_conn_server* server) {
  if (!server->handles_released) {
    if (server->connections > 0) {
      uv_ref((uv_handle_t*)&server->keepalive);
    } else {
      uv_unref((uv_handle_t*)&server->keepalive);
    }
  }
  server_update_strong(server);
}

/* ----- calls into JS ----- */

/* Reports a pending exception (if any) as uncaught; see report_uncaught (errors.c). */
static void report_pending(napi_env env) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) report_uncaught(env);
}

static void server_call(tsgi_conn_server* server, napi_ref function_ref, size_t argc,
                        napi_value* argv) {
  napi_env env = server->env;
  napi_value self = NULL, function = NULL;
  if (function_ref == NULL || napi_get_reference_value(env, server->wrapper, &self) != napi_ok ||
      self == NULL || napi_get_reference_value(env, function_ref, &function) != napi_ok ||
      function == NULL) {
    return;
  }
  napi_status status =
      napi_make_callback(env, server->async_context, self, function, argc, argv, NULL);
  if (status == napi_pending_exception) report_uncaught(env);
}

static void conn_mark_broken(tsgi_conn_server* server, tsgi_conn* conn);

/* onData(fd, Buffer copy of bytes), or onData(fd, null) when bytes is NULL. */
static void conn_emit_data(tsgi_conn_server* server, tsgi_conn* conn, const char* bytes,
                           size_t length) {
  napi_env env = server->env;
  napi_value argv[2];
  napi_status status = napi_create_int32(env, conn->fd, &argv[0]);
  if (status == napi_ok) {
    status = bytes != NULL ? napi_create_buffer_copy(env, length, bytes, NULL, &argv[1])
                           : napi_get_null(env, &argv[1]);
  }
  if (status != napi_ok) {
    /* Out of memory for the Buffer: the bytes are lost, so the connection cannot go on. */
    report_pending(env);
    if (bytes != NULL) conn_mark_broken(server, conn);
    return;
  }
  server_call(server, server->on_data, 2, argv);
}

static void conn_emit_drain(tsgi_conn_server* server, tsgi_conn* conn) {
  napi_value argv[1];
  if (napi_create_int32(server->env, conn->fd, &argv[0]) == napi_ok) {
    server_call(server, server->on_drain, 1, argv);
  }
}

/* ----- connections ----- */

static bool conn_has_queue(const tsgi_conn* conn) { return conn->queue_end > conn->queue_start; }

static void pending_remove(tsgi_conn_server* server, tsgi_conn* conn) {
  for (tsgi_conn** link = &server->pending; *link != NULL; link = &(*link)->next) {
    if (*link == conn) {
      *link = conn->next;
      break;
    }
  }
  conn->next = NULL;
  conn->pending = false;
}

/* Closes the fd now, dropping any queue. No JS callback. */
static void conn_close(tsgi_conn_server* server, tsgi_conn* conn) {
  conn->open = false;
  server->conns[conn->fd] = NULL;
  if (conn->pending) pending_remove(server, conn);
  conn->queue_start = conn->queue_end = 0;
  if (conn->queue_size > CONN_QUEUE_KEEP) {
    free(conn->queue);
    conn->queue = NULL;
    conn->queue_size = 0;
  }
  /* Closing the fd also takes it out of the epoll set. Plain close, no shutdown(): as uWSGI
   * does, the queued bytes still go out, followed by a FIN. */
  close(conn->fd);
  conn_recycle(server, conn);
  if (--server->connections == 0) server_connections_changed(server);
}

/* The peer is gone: JS hears onData(fd, null) once, then the fd is closed (unless JS ended or
 * destroyed it inside that callback; an end() with bytes still queued flushes them first). */
static void conn_report_gone(tsgi_conn_server* server, tsgi_conn* conn) {
  conn_emit_data(server, conn, NULL, 0);
  if (conn->open && !conn->ended) conn_close(server, conn);
}

/* A failure seen from a libuv callback, where JS may be called at once. */
static void conn_fail(tsgi_conn_server* server, tsgi_conn* conn) {
  conn->broken = true;
  conn->queue_start = conn->queue_end = 0;
  if (conn->pending) pending_remove(server, conn);
  if (conn->ended) {
    conn_close(server, conn);
  } else {
    conn_report_gone(server, conn);
  }
}

static void on_pending_timer(uv_timer_t* timer) {
  tsgi_conn_server* server = timer->data;
  napi_handle_scope scope;
  if (napi_open_handle_scope(server->env, &scope) != napi_ok) return;
  while (server->pending != NULL) {
    tsgi_conn* conn = server->pending;
    server->pending = conn->next;
    conn->next = NULL;
    conn->pending = false;
    conn_report_gone(server, conn);
  }
  napi_close_handle_scope(server->env, scope);
}

/*
 * A failure seen inside a JS call (write): JS must not be re-entered from its own call, so the
 * null is reported from a zero-delay timer. The connection stops being watched meanwhile.
 */
static void conn_mark_broken(tsgi_conn_server* server, tsgi_conn* conn) {
  if (conn->broken) return;
  conn->broken = true;
  conn->queue_start = conn->queue_end = 0;
  if (conn->ended) {
    conn_close(server, conn);
    return;
  }
  conn_update_poll(server, conn);
  conn->pending = true;
  conn->next = server->pending;
  server->pending = conn;
  uv_timer_start(&server->pending_timer, on_pending_timer, 0, 0);
}

/*
 * Makes the epoll registration match the state: READABLE while JS reads, WRITABLE while bytes
 * are queued; out of the set when neither (EPOLLHUP and EPOLLERR would still be reported).
 * Level-triggered, as uv_poll is.
 */
static void conn_update_poll(tsgi_conn_server* server, tsgi_conn* conn) {
  int wanted = 0;
  if (!conn->broken) {
    if (conn->reading && !conn->ended) wanted |= UV_READABLE;
    if (conn_has_queue(conn)) wanted |= UV_WRITABLE;
  }
  if (wanted == conn->events) return;
  struct epoll_event event = {
      .events = ((wanted & UV_READABLE) ? EPOLLIN : 0) | ((wanted & UV_WRITABLE) ? EPOLLOUT : 0),
      .data.u64 = (uint64_t)conn->generation << 32 | (uint32_t)conn->fd,
  };
  int op = wanted == 0 ? EPOLL_CTL_DEL : conn->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  if (epoll_ctl(server->epoll_fd, op, conn->fd, &event) == 0) {
    conn->events = wanted;
  } else {
    conn->events = 0;
    conn_mark_broken(server, conn); /* cannot be watched (ENOSPC, ENOMEM…): give it up */
  }
}

/* One non-blocking read → onData(fd, bytes); EOF or an error → onData(fd, null) and close. */
/*
 * `first`: the read right after accept. A client that has sent nothing yet is reported too, with
 * an empty Buffer, so JS knows the connection exists and can time it out (--socket-timeout).
 */
static void conn_read(tsgi_conn_server* server, tsgi_conn* conn, bool first) {
  ssize_t n;
  do n = read(conn->fd, server->scratch, sizeof server->scratch);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    conn_emit_data(server, conn, server->scratch, (size_t)n);
    if (conn->open) conn_update_poll(server, conn);
  } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    if (first) {
      conn_emit_data(server, conn, server->scratch, 0);
      if (!conn->open) return;
    }
    conn_update_poll(server, conn);
  } else {
    conn_report_gone(server, conn);
  }
}

/*
 * An adopted connection whose peer stopped reading (EPIPE, ECONNRESET on a send): a node may
 * answer before it has read the request body, and close. Its answer matters more than the rest
 * of the body, so what is queued is dropped, later writes too, and reading goes on.
 */
static void conn_stop_writing(tsgi_conn_server* server, tsgi_conn* conn) {
  conn->write_closed = true;
  conn->queue_start = conn->queue_end = 0;
  conn_update_poll(server, conn);
}

/* Sends what the queue holds; one send per WRITABLE event (level-triggered). */
static void conn_flush(tsgi_conn_server* server, tsgi_conn* conn) {
  size_t queued = conn->queue_end - conn->queue_start;
  ssize_t n;
  do n = send(conn->fd, conn->queue + conn->queue_start, queued, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      if (conn->adopted) conn_stop_writing(server, conn);
      else conn_fail(server, conn);
    }
    return;
  }
  conn->queue_start += (size_t)n;
  if ((size_t)n < queued) return; /* the socket buffer is full again */
  conn->queue_start = conn->queue_end = 0;
  if (conn->ended) {
    conn_close(server, conn);
    return;
  }
  conn_update_poll(server, conn);
  if (!conn->broken) conn_emit_drain(server, conn);
}

static void conn_on_ready(tsgi_conn_server* server, tsgi_conn* conn, uint32_t events) {
  if (events & EPOLLERR) {
    if (!conn->adopted) {
      conn_fail(server, conn);
      return;
    }
    /* A node that answered and closed without reading the whole body: its answer is still in
     * our receive queue, ahead of the error; the read reports both, in that order. */
    conn_stop_writing(server, conn);
    events |= EPOLLIN;
  }
  /* A hang-up shows as whatever is watched: the read or send then meets the EOF or error. */
  if (events & EPOLLHUP) events |= EPOLLIN | EPOLLOUT;
  if ((events & EPOLLOUT) && conn_has_queue(conn)) conn_flush(server, conn);
  if ((events & EPOLLIN) && conn->open && conn->reading && !conn->ended && !conn->broken) {
    conn_read(server, conn, false);
  }
}

#define CONN_EVENTS_BATCH 256

/* The epoll set is readable: one non-blocking epoll_wait, then each ready connection. */
static void on_conn_events(uv_poll_t* handle, int status, int events) {
  (void)status;
  (void)events;
  tsgi_conn_server* server = handle->data;
  struct epoll_event ready[CONN_EVENTS_BATCH];
  int count;
  do count = epoll_wait(server->epoll_fd, ready, CONN_EVENTS_BATCH, 0);
  while (count < 0 && errno == EINTR);
  if (count <= 0) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(server->env, &scope) != napi_ok) return;
  for (int i = 0; i < count; i++) {
    uint32_t fd = (uint32_t)ready[i].data.u64;
    tsgi_conn* conn = fd < server->conns_size ? server->conns[fd] : NULL;
    /* Closed by an earlier callback of this batch, or a predecessor's event (see above). */
    if (conn == NULL || conn->generation != (uint32_t)(ready[i].data.u64 >> 32)) continue;
    conn_on_ready(server, conn, ready[i].events);
  }
  napi_close_handle_scope(server->env, scope);
}

/* Appends to the queue, growing it (doubling) or compacting it first as needed. */
static bool conn_enqueue(tsgi_conn* conn, const char* data, size_t length) {
  size_t queued = conn->queue_end - conn->queue_start;
  if (conn->queue_size - conn->queue_end < length) {
    if (conn->queue_start > 0) {
      memmove(conn->queue, conn->queue + conn->queue_start, queued);
      conn->queue_start = 0;
      conn->queue_end = queued;
    }
    if (conn->queue_size - queued < length) {
      size_t size = conn->queue_size > 0 ? conn->queue_size : CONN_QUEUE_MIN;
      while (size < queued + length) {
        if (size > SIZE_MAX / 2) return false;
        size *= 2;
      }
      char* grown = realloc(conn->queue, size);
      if (grown == NULL) return false;
      conn->queue = grown;
      conn->queue_size = size;
    }
  }
  memcpy(conn->queue + conn->queue_end, data, length);
  conn->queue_end += length;
  return true;
}

/* write(): true when nothing is left queued. A peer error never throws (see conn_mark_broken). */
static bool conn_write(tsgi_conn_server* server, tsgi_conn* conn, const char* data,
                       size_t length) {
  if (conn->broken || conn->write_closed) return false;
  size_t sent = 0;
  if (!conn_has_queue(conn)) {
    while (sent < length) {
      ssize_t n = send(conn->fd, data + sent, length - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent += (size_t)n;
        if (sent < length) break; /* a partial write means the buffer is full: queue the rest */
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else if (conn->adopted) {
        /* A node that answered early, or a connect that failed: keep reading (its answer, or
         * the error). false: the bytes did not reach it, and no drain follows. */
        conn_stop_writing(server, conn);
        return false;
      } else {
        conn_mark_broken(server, conn); /* EPIPE, ECONNRESET… */
        return false;
      }
    }
    if (sent == length) return true;
  }
  if (!conn_enqueue(conn, data + sent, length - sent)) {
    conn_mark_broken(server, conn); /* out of memory: the response cannot be completed */
    return false;
  }
  conn_update_poll(server, conn);
  return false;
}

static bool server_grow_table(tsgi_conn_server* server, size_t fd) {
  size_t size = server->conns_size > 0 ? server->conns_size : 1024;
  while (size <= fd) size *= 2;
  tsgi_conn** grown = realloc(server->conns, size * sizeof *grown);
  if (grown == NULL) return false;
  memset(grown + server->conns_size, 0, (size - server->conns_size) * sizeof *grown);
  server->conns = grown;
  server->conns_size = size;
  return true;
}

/* A freshly accepted fd: a record, then a read right away (the request is usually there). */
/* A connection record for `fd` in the server's table; NULL when memory ran out. */
static tsgi_conn* conn_record(tsgi_conn_server* server, int fd, bool adopted) {
  if ((size_t)fd >= server->conns_size && !server_grow_table(server, (size_t)fd)) return NULL;
  tsgi_conn* conn = server->free_records;
  if (conn != NULL) {
    server->free_records = conn->next;
  } else if ((conn = calloc(1, sizeof *conn)) == NULL) {
    return NULL;
  }
  conn->server = server;
  conn->next = NULL;
  conn->fd = fd;
  conn->generation = ++server->generations;
  conn->events = 0;
  conn->open = true;
  conn->reading = true;
  conn->ended = false;
  conn->broken = false;
  conn->pending = false;
  conn->adopted = adopted;
  conn->write_closed = false;
  conn->queue_start = conn->queue_end = 0;
  server->conns[fd] = conn;
  if (server->connections++ == 0) server_connections_changed(server);
  return conn;
}

static void conn_open(tsgi_conn_server* server, int fd) {
  tsgi_conn* conn = conn_record(server, fd, false);
  if (conn == NULL) {
    close(fd);
    return;
  }
  conn_read(server, conn, true);
}

/* ----- the listening socket ----- */

static bool server_accepting(const tsgi_conn_server* server) {
  return server->started && !server->paused && !server->closed && !server->backing_off;
}

/*
 * Inside the accept loop a pause (all cores busy) and the resume that follows it are deferred to
 * the loop's end: libuv registers a restarted watcher only at the next epoll_wait, so stopping
 * and restarting it per connection cost two failing EPOLL_CTL_DELs per request.
 */
static int server_update_listen(tsgi_conn_server* server) {
  bool wanted = server_accepting(server);
  if (server->closed || server->in_accept_loop || wanted == server->listening) return 0;
  int err = wanted ? uv_poll_start(&server->listen, UV_READABLE, on_listen_event)
                   : uv_poll_stop(&server->listen);
  if (err == 0) server->listening = wanted;
  return err;
}

static void on_backoff_done(uv_timer_t* timer) {
  tsgi_conn_server* server = timer->data;
  server->backing_off = false;
  server_update_listen(server);
}

/* Out of fds (or a listening-socket error): stop watching for a while instead of spinning. */
static void server_back_off(tsgi_conn_server* server) {
  if (server->closed) return;
  server->backing_off = true;
  server_update_listen(server);
  uv_update_time(server->loop);
  uv_timer_start(&server->backoff, on_backoff_done, CONN_BACKOFF_MS, 0);
}

static void on_listen_event(uv_poll_t* handle, int status, int events) {
  (void)events;
  tsgi_conn_server* server = handle->data;
  if (status < 0) {
    server->listening = false; /* POLLERR: libuv has stopped the handle itself */
    server_back_off(server);
    return;
  }
  napi_handle_scope scope;
  if (napi_open_handle_scope(server->env, &scope) != napi_ok) return;
  /* server_accepting() is re-checked after each connection: its onData may pause or close. */
  server->in_accept_loop = true;
  for (int i = 0; i < CONN_ACCEPT_BATCH && server_accepting(server); i++) {
    int fd = accept4(server->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      conn_open(server, fd);
    } else if (errno == EINTR || errno == ECONNABORTED) {
      continue;
    } else {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        server_back_off(server);
      }
      break; /* EAGAIN: the backlog is empty, or another worker won the race */
    }
  }
  server->in_accept_loop = false;
  if (server_update_listen(server) != 0) server_back_off(server);
  napi_close_handle_scope(server->env, scope);
}

/* ----- teardown ----- */

static void server_close_listen(tsgi_conn_server* server) {
  if (server->closed) return;
  server->closed = true;
  server->listening = false;
  uv_close((uv_handle_t*)&server->listen, on_listen_closed);
  uv_close((uv_handle_t*)&server->backoff, on_server_handle_closed);
  server_update_strong(server);
}

static void server_release_js(tsgi_conn_server* server) {
  if (server->on_data != NULL) {
    napi_delete_reference(server->env, server->on_data);
    server->on_data = NULL;
  }
  if (server->on_drain != NULL) {
    napi_delete_reference(server->env, server->on_drain);
    server->on_drain = NULL;
  }
  if (server->async_context != NULL) {
    napi_async_destroy(server->env, server->async_context);
    server->async_context = NULL;
  }
  server_update_strong(server);
}

/* Closes everything, connections included, without calling JS. Idempotent. */
static void server_shutdown(tsgi_conn_server* server) {
  server_close_listen(server);
  for (size_t fd = 0; fd < server->conns_size && server->connections > 0; fd++) {
    if (server->conns[fd] != NULL) conn_close(server, server->conns[fd]);
  }
  if (!server->handles_released) {
    server->handles_released = true;
    uv_close((uv_handle_t*)&server->pending_timer, on_server_handle_closed);
    uv_close((uv_handle_t*)&server->keepalive, on_server_handle_closed);
    uv_close((uv_handle_t*)&server->conn_events, on_conn_events_closed);
  }
  server_release_js(server);
}

/* The environment (a worker thread) is exiting with this server still open. */
static void conn_server_on_env_exit(napi_async_cleanup_hook_handle handle, void* data) {
  (void)handle;
  server_shutdown(data);
}

/* The JS object was garbage collected (so: closed or never started, and no connections), or
 * the environment is shutting down after conn_server_on_env_exit. */
static void conn_server_finalize(napi_env env, void* data, void* hint) {
  (void)hint;
  tsgi_conn_server* server = data;
  server->strong = false;
  napi_delete_reference(env, server->wrapper);
  server->wrapper = NULL;
  server_shutdown(server);
  server->finalized = true;
  if (server->handles_open == 0) server_free(server);
}

/* ----- the JS class ----- */

/*
 * Pairs the handles with the JS object. The callbacks are kept in an array on the object under
 * a fresh symbol (non-writable, non-configurable), so they live exactly as long as the object.
 */
static napi_value conn_server_attach(napi_env env, napi_value self, napi_value on_data,
                                     napi_value on_drain, tsgi_conn_server* server) {
  napi_value resource_name, description, holder;
  napi_property_descriptor hold = {NULL, NULL, NULL, NULL, NULL, NULL, napi_default, NULL};
  if (napi_create_reference(env, on_data, 0, &server->on_data) != napi_ok ||
      napi_create_reference(env, on_drain, 0, &server->on_drain) != napi_ok ||
      napi_create_string_utf8(env, "tsgi.ConnServer callbacks", NAPI_AUTO_LENGTH,
                              &description) != napi_ok ||
      napi_create_symbol(env, description, &hold.name) != napi_ok ||
      napi_create_array_with_length(env, 2, &holder) != napi_ok ||
      napi_set_element(env, holder, 0, on_data) != napi_ok ||
      napi_set_element(env, holder, 1, on_drain) != napi_ok ||
      (hold.value = holder, napi_define_properties(env, self, 1, &hold)) != napi_ok ||
      napi_create_string_utf8(env, "tsgi.ConnServer", NAPI_AUTO_LENGTH, &resource_name) !=
          napi_ok ||
      napi_async_init(env, NULL, resource_name, &server->async_context) != napi_ok ||
      napi_add_async_cleanup_hook(env, conn_server_on_env_exit, server, &server->cleanup) !=
          napi_ok ||
      napi_wrap(env, self, server, conn_server_finalize, NULL, &server->wrapper) != napi_ok) {
    napi_value result = napi_failed(env);
    server->finalized = true; /* no JS object owns it */
    server_shutdown(server);
    return result;
  }
  return self;
}

/* new ConnServer(listenFd, onData, onDrain) */
napi_value conn_server_new(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self, new_target;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  CHECK(napi_get_new_target(env, info, &new_target));
  if (new_target == NULL) {
    napi_throw_type_error(env, "ERR_CONSTRUCT_CALL_REQUIRED",
                          "Class constructor ConnServer cannot be invoked without 'new'");
    return NULL;
  }
  int fd;
  if (!get_fd(env, argv[0], &fd) ||
      !expect_type(env, argv[1], napi_function, "onData", "function") ||
      !expect_type(env, argv[2], napi_function, "onDrain", "function")) {
    return NULL;
  }
  uv_loop_t* loop;
  CHECK(napi_get_uv_event_loop(env, &loop));

  char detail[32];
  snprintf(detail, sizeof detail, "fd %d", fd);
  /* A dup, as for Poll: libuv allows one watcher per fd number, and closing the server must
   * leave the caller's listenFd open (the master owns it). */
  int listen_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (listen_fd < 0) {
    throw_errno(env, errno, "dup", detail);
    return NULL;
  }
  tsgi_conn_server* server = calloc(1, sizeof *server);
  if (server == NULL) {
    close(listen_fd);
    throw_errno(env, ENOMEM, "calloc", detail);
    return NULL;
  }
  int err = uv_poll_init(loop, &server->listen, listen_fd);
  if (err != 0) {
    close(listen_fd);
    free(server);
    throw_errno(env, -err, "uv_poll_init", detail);
    return NULL;
  }
  server->magic = CONN_SERVER_MAGIC;
  server->loop = loop;
  server->env = env;
  server->listen_fd = listen_fd;
  server->listen.data = server;
  uv_timer_init(loop, &server->backoff);
  uv_timer_init(loop, &server->pending_timer);
  server->backoff.data = server;
  server->pending_timer.data = server;
  server->handles_open = 3;
  err = uv_async_init(loop, &server->keepalive, on_keepalive);
  if (err != 0) {
    server->finalized = true;
    server->handles_released = true;
    server_close_listen(server);
    uv_close((uv_handle_t*)&server->pending_timer, on_server_handle_closed);
    throw_errno(env, -err, "uv_async_init", detail);
    return NULL;
  }
  server->keepalive.data = server;
  uv_unref((uv_handle_t*)&server->keepalive);
  server->handles_open = 4;
  /* The connections' epoll set; its watcher is unref'd (keepalive holds the loop instead). */
  bool watcher_initialized = false;
  server->conn_events.data = server;
  server->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (server->epoll_fd < 0) {
    err = -errno;
  } else if ((err = uv_poll_init(loop, &server->conn_events, server->epoll_fd)) == 0) {
    watcher_initialized = true;
    err = uv_poll_start(&server->conn_events, UV_READABLE, on_conn_events);
  }
  if (err != 0) {
    /* The other four handles' close callbacks free the struct (and the watcher's, if any). */
    if (watcher_initialized) {
      uv_close((uv_handle_t*)&server->conn_events, on_conn_events_closed);
      server->handles_open++;
    } else if (server->epoll_fd >= 0) {
      close(server->epoll_fd);
    }
    server->finalized = true;
    server->handles_released = true;
    server_close_listen(server);
    uv_close((uv_handle_t*)&server->pending_timer, on_server_handle_closed);
    uv_close((uv_handle_t*)&server->keepalive, on_server_handle_closed);
    throw_errno(env, -err, server->epoll_fd < 0 ? "epoll_create1" : "uv_poll_start", detail);
    return NULL;
  }
  uv_unref((uv_handle_t*)&server->conn_events);
  server->handles_open = 5;
  return conn_server_attach(env, self, argv[1], argv[2], server);
}

/* Unwraps `this`; throws on a foreign receiver (ConnServer.prototype.write.call(poll, …)). */
static tsgi_conn_server* server_this(napi_env env, napi_callback_info info, size_t argc,
                                     napi_value* argv) {
  napi_value self;
  void* data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || data == NULL ||
      ((tsgi_conn_server*)data)->magic != CONN_SERVER_MAGIC) {
    napi_throw_type_error(env, "ERR_INVALID_THIS", "Value of \"this\" must be of type ConnServer");
    return NULL;
  }
  return data;
}

/* The open connection on fd, or NULL with ERR_INVALID_ARG_VALUE thrown (unknown, ended). */
static tsgi_conn* conn_lookup(napi_env env, tsgi_conn_server* server, napi_value value) {
  int fd;
  if (!get_fd(env, value, &fd)) return NULL;
  tsgi_conn* conn = (size_t)fd < server->conns_size ? server->conns[fd] : NULL;
  if (conn != NULL && !conn->ended) return conn;
  char message[128];
  snprintf(message, sizeof message,
           "The argument 'fd' is not an open connection of this ConnServer. Received %d", fd);
  napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", message);
  return NULL;
}

napi_value conn_server_start(napi_env env, napi_callback_info info) {
  tsgi_conn_server* server = server_this(env, info, 0, NULL);
  if (server == NULL) return NULL;
  if (server->closed) {
    napi_throw_error(env, "ERR_INVALID_STATE", "ConnServer is closed");
    return NULL;
  }
  server->started = true;
  int err = server_update_listen(server);
  if (err != 0) {
    server->started = false;
    throw_errno(env, -err, "uv_poll_start", NULL);
    return NULL;
  }
  server_update_strong(server);
  return NULL;
}

napi_value conn_server_pause(napi_env env, napi_callback_info info) {
  tsgi_conn_server* server = server_this(env, info, 0, NULL);
  if (server == NULL) return NULL;
  server->paused = true;
  server_update_listen(server);
  return NULL;
}

napi_value conn_server_resume(napi_env env, napi_callback_info info) {
  tsgi_conn_server* server = server_this(env, info, 0, NULL);
  if (server == NULL) return NULL;
  server->paused = false;
  int err = server_update_listen(server);
  if (err != 0) throw_errno(env, -err, "uv_poll_start", NULL);
  return NULL;
}

napi_value conn_server_close(napi_env env, napi_callback_info info) {
  tsgi_conn_server* server = server_this(env, info, 0, NULL);
  if (server != NULL) server_close_listen(server);
  return NULL;
}

napi_value conn_server_write(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  tsgi_conn_server* server = server_this(env, info, 2, argv);
  if (server == NULL) return NULL;
  tsgi_conn* conn = conn_lookup(env, server, argv[0]);
  const char* data;
  size_t length;
  if (conn == NULL || !get_buffer(env, argv[1], "data", &data, &length)) return NULL;
  napi_value result;
  CHECK(napi_get_boolean(env, conn_write(server, conn, data, length), &result));
  return result;
}

/* end(fd[, data]): `data` is written first, so a whole response costs JS one call. */
napi_value conn_server_end(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  tsgi_conn_server* server = server_this(env, info, 2, argv);
  if (server == NULL) return NULL;
  tsgi_conn* conn = conn_lookup(env, server, argv[0]);
  if (conn == NULL) return NULL;
  napi_valuetype data_type;
  CHECK(napi_typeof(env, argv[1], &data_type));
  if (data_type != napi_undefined) {
    const char* data;
    size_t length;
    if (!get_buffer(env, argv[1], "data", &data, &length)) return NULL;
    conn_write(server, conn, data, length);
  }
  conn->ended = true;
  if (conn->broken || !conn_has_queue(conn)) {
    conn_close(server, conn);
  } else {
    conn_update_poll(server, conn); /* WRITABLE only: closes after the last queued byte */
  }
  return NULL;
}

napi_value conn_server_destroy(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  tsgi_conn_server* server = server_this(env, info, 1, argv);
  if (server == NULL) return NULL;
  tsgi_conn* conn = conn_lookup(env, server, argv[0]);
  if (conn != NULL) conn_close(server, conn);
  return NULL;
}

static napi_value conn_server_set_reading(napi_env env, napi_callback_info info, bool reading) {
  napi_value argv[1];
  tsgi_conn_server* server = server_this(env, info, 1, argv);
  if (server == NULL) return NULL;
  tsgi_conn* conn = conn_lookup(env, server, argv[0]);
  if (conn == NULL) return NULL;
  conn->reading = reading;
  conn_update_poll(server, conn);
  return NULL;
}

napi_value conn_server_pause_reading(napi_env env, napi_callback_info info) {
  return conn_server_set_reading(env, info, false);
}

napi_value conn_server_resume_reading(napi_env env, napi_callback_info info) {
  return conn_server_set_reading(env, info, true);
}

napi_value conn_server_connections(napi_env env, napi_callback_info info) {
  tsgi_conn_server* server = server_this(env, info, 0, NULL);
  if (server == NULL) return NULL;
  napi_value result;
  CHECK(napi_create_uint32(env, server->connections, &result));
  return result;
}

/* ref/unref act on the listening side only (the poll and its EMFILE back-off timer). */
static napi_value conn_server_set_ref(napi_env env, napi_callback_info info, bool ref) {
  tsgi_conn_server* server = server_this(env, info, 0, NULL);
  if (server == NULL) return NULL;
  if (!server->closed) {
    if (ref) {
      uv_ref((uv_handle_t*)&server->listen);
      uv_ref((uv_handle_t*)&server->backoff);
    } else {
      uv_unref((uv_handle_t*)&server->listen);
      uv_unref((uv_handle_t*)&server->backoff);
    }
  }
  return NULL;
}

napi_value conn_server_ref(napi_env env, napi_callback_info info) {
  return conn_server_set_ref(env, info, true);
}

napi_value conn_server_unref(napi_env env, napi_callback_info info) {
  return conn_server_set_ref(env, info, false);
}

/*
 * adopt(fd): an fd this process connected (the HTTP router's node connection) joins the server
 * as if accepted, without the first read: nothing has been asked yet, and a callback from
 * inside adopt() would reach JS before it has recorded the fd. It is watched for READABLE.
 */
napi_value conn_server_adopt(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  tsgi_conn_server* server = server_this(env, info, 1, argv);
  if (server == NULL) return NULL;
  int fd;
  if (!get_fd(env, argv[0], &fd)) return NULL;
  if (server->closed && server->handles_released) {
    napi_throw_error(env, "ERR_INVALID_STATE", "ConnServer is shut down");
    return NULL;
  }
  if ((size_t)fd < server->conns_size && server->conns[fd] != NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "The fd is already a connection of this ConnServer");
    return NULL;
  }
  tsgi_conn* conn = conn_record(server, fd, true);
  if (conn == NULL) {
    throw_errno(env, ENOMEM, "calloc", NULL);
    return NULL;
  }
  conn_update_poll(server, conn);
  return NULL;
}
