/**
 * The bridge between the `uwsgi` api and the worker running it. The worker publishes its
 * context on a global symbol, so the api finds it whichever copy of the package an app
 * imported, and an api call in a process that is not a worker fails with a clear error.
 */
import type { Scheduler } from '../green/scheduler.js';
import type { Core, WorkerCounters } from '../runtime/core.js';
import { tsgiError } from '../runtime/errors.js';
import type { Options } from '../runtime/options.js';
import type { SignalRequest } from '../runtime/signal-hub.js';
import type { SignalRunner } from '../runtime/signal-runner.js';
import type { SharedState } from '../runtime/shared/state.js';

export interface WorkerContext {
  workerId: number;
  masterPid: number;
  numproc: number;
  options: Readonly<Options>;
  scheduler: Scheduler<Core>;
  counters: WorkerCounters;
  signals: SignalRunner;
  shared: SharedState;
  toMaster: (request: SignalRequest) => void;
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
