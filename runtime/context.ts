/**
 * The bridge between the `uwsgi` api and the worker running it. The worker publishes its
 * context on a global symbol, so the api finds it whichever copy of the package an app
 * imported, and an api call in a process that is not a worker fails with a clear error.
 */
import type { Scheduler } from '../green/scheduler.js';
import { tsgiError } from './errors.js';
import type { MasterRequest } from './ipc.js';
import type { Options } from './options.js';
import type { SignalRunner } from './signals/runner.js';
import type { SpoolerHandler } from './spooler/spooler.js';
import type { SharedState } from './shared/state.js';

/** A worker's, or a spooler process's (worker id 0, `spooler` set): what the api needs. */
export interface WorkerContext {
  workerId: number;
  /** With --threads, which worker_thread of the process this is (0-based); 0 otherwise. */
  threadId?: number;
  masterPid: number;
  numproc: number;
  options: Readonly<Options>;
  /** Runs this process's green threads (request cores, or spooler tasks). */
  scheduler: Scheduler;
  signals: SignalRunner;
  shared: SharedState;
  toMaster: (request: MasterRequest) => void;
  /** Sends a request and resolves with the master's answer (false if none came in time). */
  askMaster: (request: MasterRequest, timeoutMs: number) => Promise<boolean>;
  /** The directory this spooler process serves, or null in a worker. */
  spooler: string | null;
}

const KEY = Symbol.for('tsgi.worker-context');
type Holder = { [KEY]?: WorkerContext };

export function setWorkerContext(context: WorkerContext): void {
  (globalThis as Holder)[KEY] = context;
}

/** The running worker's context; throws TSGI_ERR_API_OUTSIDE_WORKER when there is none. */
export function workerContext(member: string): WorkerContext {
  const context = (globalThis as Holder)[KEY];
  if (context === undefined) {
    throw tsgiError('TSGI_ERR_API_OUTSIDE_WORKER', `uwsgi.${member} is only available inside a tsgi worker (run the app with tsgi)`);
  }
  return context;
}

const SPOOLER_HANDLER = Symbol.for('tsgi.spooler-handler');
type HandlerHolder = { [SPOOLER_HANDLER]?: SpoolerHandler };

/**
 * `uwsgi.spooler = handler` lands here, on a global symbol like the context, so the spooler
 * process finds the handler whichever copy of the api the app set it through. It needs no
 * worker: an app module sets it at import, also when a plain `node` imports it.
 */
export function setSpoolerHandler(handler: SpoolerHandler | undefined): void {
  (globalThis as HandlerHolder)[SPOOLER_HANDLER] = handler;
}

export function spoolerHandler(): SpoolerHandler | undefined {
  return (globalThis as HandlerHolder)[SPOOLER_HANDLER];
}
