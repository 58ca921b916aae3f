/**
 * Typed access to tsgi's Node-API addon (native/tsgi.c → build/Release/tsgi.node).
 *
 * The addon covers what Node's `net` module cannot do: bind a socket without watching it (the
 * master never accepts, workers inherit the fd), exact-length unix addresses for uWSGI's `@name`
 * abstract sockets (Node pads them to 108 bytes), accept on a shared fd without throwing on the
 * routine EAGAIN, and readiness of any fd without consuming its data (uv_poll).
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

/** Everything the addon exports. */
export interface TsgiNative {
  /**
   * Creates a listening TCP socket (SO_REUSEADDR, non-blocking, close-on-exec) and returns its
   * fd without watching it: the master binds and workers inherit the fd. `host` is a numeric
   * address (no DNS: the master must not block on a resolver); `''` means 0.0.0.0, a `:` means
   * IPv6, `[v6]` brackets are accepted. Port 0 lets the kernel choose (see localAddress).
   */
  listenTcp(host: string, port: number, backlog: number): number;
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
   * accept4() a connection as a non-blocking close-on-exec fd, or returns a NEGATIVE errno
   * (-11 EAGAIN when another worker won the race, -24 EMFILE, …) instead of throwing, because
   * it runs on the hot path where EAGAIN is normal. EINTR/ECONNABORTED are retried inside.
   */
  accept(listenFd: number): number;
  /** getsockname(): reports the real port of a `:0` bind, or a unix socket's sun_path bytes. */
  localAddress(fd: number): LocalAddress;
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
  /** pipe2(O_CLOEXEC) → `[readFd, writeFd]`, blocking: a simple fd pair to wait on in tests and examples. */
  pipe(): [readFd: number, writeFd: number];
  /** Readiness of any fd on this thread's event loop; see {@link Poll}. */
  Poll: PollConstructor;
  /** Poll event bit: the fd is readable (or at EOF/hang-up). */
  readonly POLL_READABLE: 1;
  /** Poll event bit: the fd is writable. */
  readonly POLL_WRITABLE: 2;
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
