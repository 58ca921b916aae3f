/**
 * The `uwsgi` module apps import: `import uwsgi from 'tsgi'`. Members keep the names of
 * uWSGI's Python module, so the talk's examples read the same in JS.
 *
 * @example
 * import uwsgi from 'tsgi';
 *
 * export function* application(env, start_response) {
 *   start_response('200 OK', [['Content-Type', 'text/html']]);
 *   yield '<h1>One</h1>';
 *   yield uwsgi.async_sleep(1);
 *   yield '<h2>Two</h2>';
 * }
 */
import type { Suspension } from '../green/suspension.js';
import type { GreenThread } from '../green/thread.js';
import { currentThread } from '../green/current.js';
import { asyncSleep, suspend, waitFd } from '../green/suspend.js';
import type { Options } from '../runtime/options.js';
import { workerContext } from '../runtime/context.js';
import { rpcApi } from './rpc.js';
import { sharedApi } from './shared.js';
import { signalApi } from './signals.js';
import { spoolerApi } from './spooler.js';

export type { App, Headers, StartResponse } from '../runtime/worker/core.js';
export type { Environ } from '../runtime/worker/environ.js';
export type { RequestInput } from '../runtime/worker/input.js';
export type { Chunk } from '../green/thread.js';
export type { Suspension } from '../green/suspension.js';
export type { SpoolerHandler, SpoolerTask } from './spooler.js';

export interface Uwsgi extends SignalApi, RpcApi, SharedApi, SpoolerApi {
  /**
   * Sleeps the current green thread for `seconds` (fractions allowed) without blocking the
   * worker. Yield it in a generator app, or await it in an async one. Called bare (without
   * `yield`) inside a generator, it takes effect at the thread's next yield, after that chunk.
   * @example
   * yield uwsgi.async_sleep(10);   // wait here
   * uwsgi.async_sleep(20);         // wait after the next chunk is sent
   * yield '<h3>Three</h3>';
   * await uwsgi.async_sleep(0.5);  // in an async function
   */
  async_sleep(seconds: number): Suspension;
  /**
   * Lets every other runnable green thread (and pending I/O) run, then continues.
   * @example
   * function* hello(who) { yield uwsgi.async_sleep(10); console.log(who); yield uwsgi.suspend(); }
   * yield* hello('Serena');
   */
  suspend(): Suspension;
  /**
   * Parks the thread until `fd` is readable (data is not consumed) or `timeout` seconds pass.
   * The yield evaluates to the fd, or null on timeout. Works on pipes, sockets, eventfds.
   * @example
   * const ready = yield uwsgi.wait_fd_read(fd, 5);
   * if (ready === null) yield 'timed out';
   */
  wait_fd_read(fd: number, timeout?: number): Suspension;
  /**
   * Parks the thread until `fd` is writable or `timeout` seconds pass (see wait_fd_read).
   * @example
   * yield uwsgi.wait_fd_write(fd);
   */
  wait_fd_write(fd: number, timeout?: number): Suspension;
  /**
   * The fd that ended the current thread's last fd wait, or -1 (also after a timeout).
   * @example
   * yield uwsgi.wait_fd_read(a); uwsgi.wait_fd_read(b); // wait for either
   * const which = uwsgi.ready_fd();
   */
  ready_fd(): number;
  /**
   * This worker's id, 1-based (0 in a spooler process).
   * @example
   * start_response('200 OK', [['X-Worker', String(uwsgi.worker_id())]]);
   */
  worker_id(): number;
  /**
   * The master's pid, or 0 when tsgi runs as a single process without `--master`.
   * @example
   * process.kill(uwsgi.masterpid(), 'SIGHUP'); // graceful reload
   */
  masterpid(): number;
  /**
   * Requests this worker completed so far (instance-wide once workers share state).
   * @example
   * yield `served ${uwsgi.total_requests()} requests`;
   */
  total_requests(): number;
  /**
   * Number of worker processes of this instance.
   * @example
   * const share = 1 / uwsgi.numproc;
   */
  readonly numproc: number;
  /**
   * The effective options, keyed by option name as on the command line.
   * @example
   * const cores = uwsgi.opt.async;
   */
  readonly opt: Readonly<Options>;
}

type SignalApi = typeof signalApi;
type RpcApi = typeof rpcApi;
type SharedApi = typeof sharedApi;
type SpoolerApi = typeof spoolerApi;

/** The green thread running right now (a core, a signal handler, a spooler task). */
function running(member: string): GreenThread | null {
  workerContext(member);
  return currentThread();
}

function createUwsgi(): Uwsgi {
  // Spread would call the getters (started_on) at import time: copy descriptors instead.
  const api = Object.defineProperties({}, {
    ...Object.getOwnPropertyDescriptors(signalApi),
    ...Object.getOwnPropertyDescriptors(rpcApi),
    ...Object.getOwnPropertyDescriptors(sharedApi),
    ...Object.getOwnPropertyDescriptors(spoolerApi),
  });
  return Object.defineProperties(api, Object.getOwnPropertyDescriptors({
    async_sleep(seconds: number) {
      return asyncSleep(running('async_sleep'), seconds);
    },
    suspend() {
      return suspend(running('suspend'));
    },
    wait_fd_read(fd: number, timeout = 0) {
      return waitFd(running('wait_fd_read'), fd, false, timeout);
    },
    wait_fd_write(fd: number, timeout = 0) {
      return waitFd(running('wait_fd_write'), fd, true, timeout);
    },
    ready_fd() {
      return running('ready_fd')?.readyFd ?? -1;
    },
    worker_id() {
      return workerContext('worker_id').workerId;
    },
    masterpid() {
      return workerContext('masterpid').masterPid;
    },
    total_requests() {
      return workerContext('total_requests').shared.scoreboard.totalRequests();
    },
    get numproc() {
      return workerContext('numproc').numproc;
    },
    get opt() {
      return workerContext('opt').options;
    },
  })) as Uwsgi;
}

// One api object per process, even when an app brings its own copy of the package.
const KEY = Symbol.for('tsgi.api');
const holder = globalThis as { [KEY]?: Uwsgi };
const uwsgi: Uwsgi = (holder[KEY] ??= createUwsgi());

export default uwsgi;
