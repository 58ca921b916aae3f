/**
 * Typed access to tsgi's Node-API addon (native/*.c → build/Release/tsgi.node).
 *
 * The addon covers what Node's `net` module cannot do: bind a socket without watching it (the
 * master never accepts, workers inherit the fd), exact-length unix addresses for uWSGI's `@name`
 * abstract sockets (Node pads them to 108 bytes), accept on a shared fd without throwing on the
 * routine EAGAIN, readiness of any fd without consuming its data (uv_poll), and the memory the
 * processes share (memfd/file mappings, futex waits, liveness of a lock owner). It also carries
 * the uwsgi and HTTP connection path itself ({@link ConnServer}): accept, read, write and close
 * in C, cheaper per connection than net.Server + net.Socket.
 *
 * All fds are plain integers. Failures throw an Error shaped like Node's system errors (see
 * {@link NativeSystemError}), except {@link TsgiNative.accept}, which returns `-errno`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { tsgiError } from './errors.js';

/** Address of an IP socket, as getsockname(2) reports it. */
export interface InetAddress {
  family: 'IPv4' | 'IPv6';
  address: string;
  port: number;
}

/**
 * Address of a unix socket: the raw sun_path bytes, because an abstract name (`\0name\0`) is not
 * a printable string and its exact length is part of the name.
 */
export interface UnixAddress {
  family: 'unix';
  path: Buffer;
}

/** What {@link TsgiNative.localAddress} returns. */
export type LocalAddress = InetAddress | UnixAddress;

/**
 * The Error every failing addon call throws, shaped like Node's own system errors so callers
 * switch on `code` as they do for `net`/`fs` errors. The message reads
 * `bind 127.0.0.1:8080: EADDRINUSE (address already in use)`.
 */
export interface NativeSystemError extends Error {
  /** The errno name: `'EADDRINUSE'`, `'ECONNREFUSED'`, `'EPERM'`, … */
  code: string;
  /** The failing call: `'bind'`, `'connect'`, `'uv_poll_init'`, … */
  syscall: string;
  /** The negative errno, as in Node's system errors. */
  errno: number;
}

/**
 * Called by a started {@link Poll}. `status` is 0, or a negative errno (libuv reports EBADF for
 * POLLERR and stops the poll); `events` is a mask of {@link TsgiNative.POLL_READABLE} and
 * {@link TsgiNative.POLL_WRITABLE}. `this` is the Poll. A throw is reported as an uncaught
 * exception, like a throwing timer callback.
 */
export type PollCallback = (this: Poll, status: number, events: number) => void;

/**
 * A libuv poll handle on this thread's event loop: readiness of any fd (pipe, socket, eventfd)
 * without reading it. It exists for `wait_fd_read`/`wait_fd_write` and eventfd wake-ups, which
 * `net.Socket` cannot offer without consuming data.
 *
 * Level-triggered: the callback fires on every loop iteration while the fd stays ready, until
 * {@link Poll.stop}. While started it keeps the loop alive (see {@link Poll.unref}) and keeps
 * itself from being garbage collected, like Node's own handles.
 *
 * libuv switches the polled file description to O_NONBLOCK; a dup shares that flag with the
 * original fd, so a blocking `fs.readSync` on it may then fail with EAGAIN.
 */
export interface Poll {
  /**
   * Starts (or changes) watching for `events`: {@link TsgiNative.POLL_READABLE},
   * {@link TsgiNative.POLL_WRITABLE} or both (3). Throws `ERR_INVALID_STATE` after close().
   */
  start(events: number): void;
  /** Stops the callbacks without closing, e.g. while a green thread is not waiting. */
  stop(): void;
  /**
   * Releases the handle (and the dup, unless `ownFd`). Idempotent, and safe inside the callback.
   * An unclosed Poll is closed when garbage collected or when its worker thread exits.
   */
  close(): void;
  /** Makes an active poll keep the event loop alive again (the default). */
  ref(): void;
  /** Lets the process exit even while this poll waits, e.g. for an optional wake-up fd. */
  unref(): void;
}

/** The Poll class exported by the addon. */
export interface PollConstructor {
  /**
   * Prepares a poll on `fd`. By default the addon polls its own `dup()` of `fd`: libuv allows
   * only one watcher per fd number and `fd` may already be a `net.Socket` in this process. With
   * `ownFd = true` it polls `fd` itself (which then must stay open until close()) and never
   * closes it. Throws `EPERM` for regular files (epoll cannot watch them) and `EBADF` for
   * closed fds.
   */
  new (fd: number, callback: PollCallback, ownFd?: boolean): Poll;
  readonly prototype: Poll;
}

/**
 * Called by a {@link ConnServer} with what one read(2) of connection `fd` returned: a new
 * Buffer of exactly those bytes (at most 64 KiB), or `null` exactly once when the connection is
 * gone (the peer closed or reset it, or a write to it failed). After `null` the server has closed
 * the fd and forgotten it: do not pass it to the server again (the number may already belong to
 * a new connection). The first call for a new connection comes straight from the accept loop:
 * with the request, which has normally arrived by then, or with an EMPTY Buffer when the client
 * has sent nothing yet (so a client that never sends can be timed out). `this` is the
 * ConnServer. A throw is reported as an uncaught exception; the connection stays usable.
 */
export type ConnDataCallback = (this: ConnServer, fd: number, chunk: Buffer | null) => void;

/**
 * Called by a {@link ConnServer} once the bytes queued by a {@link ConnServer.write} that
 * returned `false` have all been handed to the kernel: the caller may write again. Never called
 * after end(fd) or destroy(fd). `this` is the ConnServer.
 */
export type ConnDrainCallback = (this: ConnServer, fd: number) => void;

/**
 * The connection path of the uwsgi and HTTP sockets in C: accepts connections on a listening fd,
 * reads and writes them and closes them on the Node event loop, handing JS only the bytes. It
 * replaces net.Server + net.Socket, whose per-connection machinery costs more CPU than a small
 * request (nginx `uwsgi_pass`, a keep-alive hello) and more memory than a parked long-poll.
 *
 * A connection is the integer fd it was accepted as. JS receives {@link ConnDataCallback}
 * calls and answers with {@link ConnServer.write} then {@link ConnServer.end}. A sync answer
 * given inside the first onData costs accept4 + read + send + close and no epoll registration.
 *
 * Lifetime: the server keeps the event loop alive while started (until close(), see
 * {@link ConnServer.unref}) and while connections are open, and keeps itself from being
 * garbage collected meanwhile. A worker thread exiting with connections open closes them.
 *
 * Errors: the peer's errors never throw (they end in `onData(fd, null)`); programmer errors do:
 * an fd that is not an open connection of this server (never accepted, or already passed to
 * end/destroy, or reported null) throws a TypeError `ERR_INVALID_ARG_VALUE`, non-Buffer data a
 * TypeError `ERR_INVALID_ARG_TYPE`.
 */
export interface ConnServer {
  /**
   * Starts accepting: watches the listening fd (READABLE) and accepts up to 64 connections per
   * wake-up, reading each right away. Idempotent; a paused server stays paused. Throws
   * `ERR_INVALID_STATE` after close(). On EMFILE/ENFILE accepting stops for 100 ms.
   */
  start(): void;
  /**
   * Stops accepting (new connections wait in the kernel backlog, or go to other workers);
   * connections already accepted carry on. Takes effect at once, even inside onData: the
   * accept loop stops after the current connection. A paused server with no connections does
   * not keep the event loop alive.
   */
  pause(): void;
  /** Accepts again after {@link ConnServer.pause}. */
  resume(): void;
  /**
   * Stops accepting for good and releases the listening watcher (the server polls its own dup
   * of listenFd: the caller's fd stays open, the master owns it). Open connections carry on
   * until JS ends them. Idempotent, and safe inside a callback.
   */
  close(): void;
  /**
   * Sends `data` on connection `fd`. With nothing queued it is written at once as far as the
   * socket takes it; the rest is copied into the connection's queue and sent as the socket
   * drains. Returns `true` when nothing is left queued, `false` when bytes wait: then wait for
   * onDrain(fd) before writing more (further writes are queued in order meanwhile). A dead peer
   * (EPIPE, ECONNRESET) does not throw: the bytes are dropped, `false` is returned and
   * `onData(fd, null)` follows from a zero-delay timer. `data` may be reused after the call.
   */
  write(fd: number, data: Buffer): boolean;
  /**
   * Finishes connection `fd`, after writing `data` if given (as write() would): no more
   * callbacks for it; the fd is closed once its queue is sent (at once when empty). A plain
   * close without shutdown(), as uWSGI does: the client reads the response, then EOF. Bytes
   * the client sent but nobody read make the kernel answer with RST.
   */
  end(fd: number, data?: Buffer): void;
  /** Closes connection `fd` now, dropping anything queued. No more callbacks for it. */
  destroy(fd: number): void;
  /**
   * Stops reading `fd` (request-body backpressure); queued writes still go out. While paused,
   * a peer that closes is noticed only when a write fails. A client that half-closes
   * (shutdown(SHUT_WR)) right after its request should be paused once the request is complete:
   * otherwise its EOF is reported as `null` and the connection closed before the response.
   */
  pauseReading(fd: number): void;
  /** Reports data for `fd` again after {@link ConnServer.pauseReading}. */
  resumeReading(fd: number): void;
  /**
   * Makes `fd`, a socket this process connected (a router's node connection, from
   * {@link TsgiNative.connectTcpNonBlocking} or {@link TsgiNative.connectUnixNonBlocking}), a
   * connection of this server, as if accepted: from now on it is read, written and closed as
   * the accepted ones are (onData, write, end, destroy). No first read happens inside the call.
   * A TCP connect still in progress is fine: writes queue until it completes, and a refused
   * connect ends in onData(fd, null) with nothing read. The server need not be started.
   * Unlike an accepted connection, a send the peer refuses (a node that answered and closed
   * before reading the whole body) does not end it: those bytes and later writes are dropped
   * (write returns false, no drain follows) and reading goes on, so the answer still arrives,
   * then null.
   */
  adopt(fd: number): void;
  /** Connections accepted and not yet closed (ended ones still flushing count). */
  readonly connections: number;
  /** Lets the process exit while the server only waits for new connections (open connections still keep it alive). */
  unref(): void;
  /** Makes the listening side keep the event loop alive again (the default). */
  ref(): void;
}

/** The ConnServer class exported by the addon. */
export interface ConnServerConstructor {
  /**
   * Prepares a server on the listening socket `listenFd` (from listenTcp/listenUnix, or
   * inherited); nothing is accepted before {@link ConnServer.start}. Throws `EBADF` for a
   * closed fd.
   */
  new (listenFd: number, onData: ConnDataCallback, onDrain: ConnDrainCallback): ConnServer;
  readonly prototype: ConnServer;
}

/** Everything the addon exports. */
/** A user or group as the system databases (NSS) know it. */
export interface JailId {
  name: string;
  uid: number;
  gid: number;
}

export interface TsgiNative {
  /**
   * Creates a listening TCP socket (SO_REUSEADDR, non-blocking, close-on-exec) and returns its
   * fd without watching it: the master binds and workers inherit the fd. `host` is a numeric
   * address (no DNS: the master must not block on a resolver); `''` means 0.0.0.0, a `:` means
   * IPv6, `[v6]` brackets are accepted. Port 0 lets the kernel choose (see localAddress).
   * `deferAcceptSeconds` > 0 sets TCP_DEFER_ACCEPT: a connection is accepted once it has sent
   * bytes, or after about that many seconds of silence.
   */
  listenTcp(host: string, port: number, backlog: number, deferAcceptSeconds?: number): number;
  /**
   * Creates a listening unix socket. `path` is the raw sun_path and the address length is
   * exactly `offsetof(sun_path) + path.length`: uWSGI's `@name` is `\0name\0` (see
   * `abstractPath()` in address.ts), a filesystem path is its bytes plus a NUL (`unixPath()`).
   * Longer than sun_path (108 bytes) throws ENAMETOOLONG.
   */
  listenUnix(path: Buffer, backlog: number): number;
  /**
   * Connects to a unix socket with the same exact-length address rules and returns a
   * non-blocking close-on-exec fd for `new net.Socket({ fd })`. It exists because Node cannot
   * reach uWSGI-style abstract names. Throws ECONNREFUSED, ENOENT, …
   */
  connectUnix(path: Buffer): number;
  /**
   * A non-blocking TCP connect (TCP_NODELAY, close-on-exec) that returns the fd at once, the
   * connect possibly still in progress: for {@link ConnServer.adopt}. Throws ECONNREFUSED … only
   * when the kernel knows at once; otherwise the failure shows on the connection.
   */
  connectTcpNonBlocking(host: string, port: number): number;
  /**
   * A unix connect that never waits: a node whose backlog is full throws EAGAIN instead of
   * blocking the event loop. Same address rules as {@link TsgiNative.connectUnix}.
   */
  connectUnixNonBlocking(path: Buffer): number;
  /**
   * accept4() a connection as a non-blocking close-on-exec fd, or returns a NEGATIVE errno
   * (-11 EAGAIN when another worker won the race, -24 EMFILE, …) instead of throwing, because
   * it runs on the hot path where EAGAIN is normal. EINTR/ECONNABORTED are retried inside.
   */
  accept(listenFd: number): number;
  /** getsockname(): reports the real port of a `:0` bind, or a unix socket's sun_path bytes. */
  localAddress(fd: number): LocalAddress;
  /** getpeername(): the client of an accepted connection (REMOTE_ADDR, REMOTE_PORT). */
  peerAddress(fd: number): LocalAddress;
  /**
   * How many connections wait in a listening TCP socket's accept queue (TCP_INFO's tcpi_unacked
   * on a LISTEN socket), for the cheaper subsystem; a NEGATIVE errno where the kernel does not
   * say (-95 EOPNOTSUPP on a unix socket). Never throws but for a bad fd argument.
   */
  listenQueue(fd: number): number;
  /**
   * How many connections wait in a listening unix socket's backlog (sock_diag's
   * UNIX_DIAG_RQLEN, what `ss -xl` shows as Recv-Q), for the metrics; a NEGATIVE errno where the
   * kernel does not say (no unix_diag in the kernel). Never throws but for a bad fd argument.
   */
  unixListenQueue(fd: number): number;
  /**
   * A bound, non-blocking, close-on-exec UDP socket (IPv4 or IPv6 by `host`), never read here:
   * a router's subscription server, which the router processes inherit and receive on.
   */
  bindUdp(host: string, port: number): number;
  /** 0, or the negative errno a non-blocking connect on `fd` ended with (SO_ERROR). */
  socketError(fd: number): number;
  /**
   * Duplicates an fd (close-on-exec), e.g. so each worker thread owns its own copy of a shared
   * listening socket: closing one thread's server must not close the others' fd.
   */
  dup(fd: number): number;
  /** Closes an fd this process owns (a listening socket no longer configured, a pipe end). */
  close(fd: number): void;
  /** Sets or clears O_NONBLOCK, e.g. before handing an fd to code that expects blocking I/O. */
  setNonBlocking(fd: number, on: boolean): void;
  /**
   * Raises the RLIMIT_NOFILE soft limit to min(wanted, hard) (`--max-fd`); as root it tries to
   * raise the hard limit too. Never lowers the limit. Returns the resulting soft limit.
   */
  raiseOpenFilesLimit(wanted: number): number;
  /**
   * setrlimit() of this process: `'as'` (RLIMIT_AS, bytes: `--limit-as`) or `'nofile'`
   * (RLIMIT_NOFILE: `--max-fd`); Infinity is unlimited. Throws EPERM when raising the hard
   * limit without root, EINVAL when soft > hard. Workers call it after Node started, since V8
   * reserves its address space at start-up (see runtime/worker/limits.ts).
   */
  setResourceLimit(resource: 'as' | 'nofile', soft: number, hard: number): void;
  /** getrlimit() of this process: `[soft, hard]`, Infinity for unlimited. */
  resourceLimit(resource: 'as' | 'nofile'): [soft: number, hard: number];
  /** pipe2(O_CLOEXEC) → `[readFd, writeFd]`, blocking: a simple fd pair to wait on in tests and examples. */
  pipe(): [readFd: number, writeFd: number];
  /**
   * Creates an anonymous shared-memory file (memfd_create, close-on-exec) of `size` zero bytes
   * and returns its fd. The master creates one for the region workers share (runtime/shared/):
   * nothing to clean up after a crash (it vanishes with the last fd and mapping), and workers
   * get it as an inherited stdio fd. `name` only shows in /proc/PID/fd (≤ 249 bytes).
   */
  shmCreate(name: string, size: number): number;
  /**
   * Opens (or creates, mode 0600) the regular file `path` for a file-backed mapping
   * (`--cache-store`) and returns its fd (close-on-exec). A new or empty file is sized to
   * `size` zero bytes; an existing one of any other size throws `EINVAL` ("the file is N bytes,
   * expected M") instead of being truncated or extended, as does a path that is not a regular file.
   */
  shmOpenFile(path: string, size: number): number;
  /**
   * Maps the first `size` bytes of `fd` (MAP_SHARED, read/write) and returns them as an
   * external ArrayBuffer: every process mapping the same file sees the same bytes. munmap runs
   * when the ArrayBuffer is garbage collected; the fd can be closed right after mapping. A file
   * shorter than `size` throws `EINVAL` (touching past its end would be a SIGBUS).
   *
   * Atomics work on it (compareExchange, add, load, store…), but it is not a SharedArrayBuffer:
   * `Atomics.wait`/`notify` refuse it; use {@link TsgiNative.futexWait}/{@link TsgiNative.futexWake}.
   */
  shmMap(fd: number, size: number): ArrayBuffer;
  /** msync(MS_SYNC) of a whole {@link TsgiNative.shmMap} buffer: a file-backed mapping reaches the disk. */
  shmSync(buffer: ArrayBuffer): void;
  /**
   * Whether process `pid` is running: kill(pid, 0) does not fail with ESRCH and /proc does not
   * show it as a zombie. Zombies count as dead because a SIGKILLed lock holder stays a zombie
   * until its parent reaps it, and that parent may be the very process waiting for the lock.
   */
  pidAlive(pid: number): boolean;
  /**
   * execv(): replaces this process image, keeping its pid, environment and stdio (which it
   * makes blocking and inheritable again, as libuv found them). Returns only by throwing.
   */
  exec(path: string, args: string[], keepFds?: number[]): never;
  /**
   * Takes a non-blocking whole-file write lock on `fd` (an open-file-description fcntl lock,
   * which also conflicts with the classic locks real uWSGI takes), or returns false when someone
   * else holds it. Closing the fd releases it.
   */
  tryLockFile(fd: number): boolean;
  /**
   * Atomics.wait for memory from {@link TsgiNative.shmMap}, across processes (a futex without
   * FUTEX_PRIVATE_FLAG): sleeps while `array[index] === expected`, at most `timeoutMs`
   * (Infinity: no limit). Returns `'not-equal'` at once if the value differs, `'timed-out'`, or
   * `'ok'` when woken, which may be spurious (a signal arrived): re-check the value. It blocks
   * the whole thread, event loop included, so keep timeouts short.
   */
  futexWait(array: Int32Array, index: number, expected: number, timeoutMs: number): 'ok' | 'not-equal' | 'timed-out';
  /** Wakes up to `count` (Infinity: all) futexWait-ers on `array[index]` in any process; returns how many woke. */
  futexWake(array: Int32Array, index: number, count: number): number;
  /** chroot(2) into `dir`, then chdir("/") (--chroot). */
  chroot(dir: string): void;
  /** unshare(2) of the named namespaces, for this thread and the children it forks (--unshare). */
  unshare(namespaces: readonly ('mount' | 'ipc' | 'uts' | 'net')[]): void;
  /** A passwd entry by name, or by id when all digits; null when there is none. */
  lookupUser(nameOrId: string): JailId | null;
  /** A group entry by name, or by id when all digits (`uid` is 0); null when there is none. */
  lookupGroup(nameOrId: string): JailId | null;
  /** A non-blocking unix datagram socket connected to `path` (sun_path bytes), for sd_notify. */
  connectUnixDatagram(path: Buffer): number;
  /** One datagram on a connected socket: false when the receiver's queue is full. */
  sendDatagram(fd: number, bytes: Buffer): boolean;
  /** An unbound unix datagram socket (non-blocking, close-on-exec), for the syslog log target. */
  unixDgramSocket(): number;
  /** sendto(path) of one datagram: bytes sent, or `-errno` (ENOENT, ECONNREFUSED, EAGAIN…), never a throw for those. */
  unixDgramSend(fd: number, path: Buffer, data: Buffer): number;
  /** Readiness of any fd on this thread's event loop; see {@link Poll}. */
  Poll: PollConstructor;
  /** Poll event bit: the fd is readable (or at EOF/hang-up). */
  readonly POLL_READABLE: 1;
  /** Poll event bit: the fd is writable. */
  readonly POLL_WRITABLE: 2;
  /** Accepts, reads, writes and closes uwsgi connections in C; see {@link ConnServer}. */
  ConnServer: ConnServerConstructor;
}

/** Where the build puts the addon; this file runs from dist/runtime/, two levels below the root. */
export const ADDON_PATH = fileURLToPath(new URL('../../build/Release/tsgi.node', import.meta.url));

/**
 * Loads the addon, throwing `TSGI_ERR_NATIVE_MISSING` with the command that builds it when the
 * file is missing or was built for another Node ABI.
 */
export function loadNative(): TsgiNative {
  const rebuild = 'run `npm install` (or `node scripts/build-addon.mjs`); it needs python3, make, g++ and Node headers';
  if (!existsSync(ADDON_PATH)) {
    throw tsgiError('TSGI_ERR_NATIVE_MISSING', `the native addon ${ADDON_PATH} is not built: ${rebuild}`);
  }
  try {
    return createRequire(import.meta.url)(ADDON_PATH) as TsgiNative;
  } catch (cause) {
    throw tsgiError('TSGI_ERR_NATIVE_MISSING', `the native addon ${ADDON_PATH} failed to load: ${rebuild}`, { cause });
  }
}

/** The loaded addon. Importing this module throws if it is not built. */
export const native: TsgiNative = loadNative();

/** The Poll class, re-exported so `new Poll(fd, cb)` reads naturally. */
export const Poll: PollConstructor = native.Poll;

/** Poll event bit for readability, re-exported from the addon. */
export const POLL_READABLE = native.POLL_READABLE;

/** Poll event bit for writability, re-exported from the addon. */
export const POLL_WRITABLE = native.POLL_WRITABLE;

/** The ConnServer class, re-exported so `new ConnServer(fd, onData, onDrain)` reads naturally. */
export const ConnServer: ConnServerConstructor = native.ConnServer;
