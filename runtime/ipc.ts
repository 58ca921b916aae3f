/**
 * Master ↔ worker messages over the Node IPC channel, and the environment a worker is
 * spawned with. Acts are a closed set; each side dispatches on `act`.
 */
import type { Options } from './options.js';
import type { InheritedSocket } from './worker/worker.js';

import type { SignalRequest } from './signals/hub.js';

/**
 * Master → child: finish what you serve, then exit; run the handler of a uWSGI signal; (to a
 * spooler) a task was queued in your directory.
 */
export type MasterMessage = { act: 'stop' } | { act: 'signal'; num: number } | { act: 'wake' };
/**
 * Child → master: the app is loaded and the child serves; a signal-subsystem request; a task
 * was written into spooler directory `dir` (its spoolers are woken).
 */
export type WorkerMessage = { act: 'ready' } | { act: 'spooled'; dir: string } | SignalRequest;
/** What the api may send to the master (everything but the lifecycle report). */
export type MasterRequest = Exclude<WorkerMessage, { act: 'ready' }>;

/** The first inherited fd: stdio 0-2 are shared, 3 is the IPC channel, sockets follow. */
export const FIRST_SOCKET_FD = 4;

const ENV_KEYS = ['TSGI_WORKER_ID', 'TSGI_MASTER_PID', 'TSGI_OPTIONS', 'TSGI_SOCKETS', 'TSGI_SPOOLER'] as const;

export interface WorkerEnvironment {
  /** The worker id, or the spooler process number. */
  workerId: number;
  /** Set for a spooler process: the directory it serves. */
  spooler?: string;
  masterPid: number;
  options: Options;
  sockets: InheritedSocket[];
}

export function workerEnvironment(spec: WorkerEnvironment): Record<string, string> {
  return {
    TSGI_WORKER_ID: String(spec.workerId),
    TSGI_MASTER_PID: String(spec.masterPid),
    TSGI_OPTIONS: JSON.stringify(spec.options),
    TSGI_SOCKETS: JSON.stringify(spec.sockets),
    ...(spec.spooler === undefined ? {} : { TSGI_SPOOLER: spec.spooler }),
  };
}

/** What the master spawned this process as, or null for the `tsgi` command itself. */
export function childRole(): 'worker' | 'spooler' | null {
  if (process.env.TSGI_WORKER_ID === undefined) return null;
  return process.env.TSGI_SPOOLER === undefined ? 'worker' : 'spooler';
}

/**
 * Reads the worker's spec and removes it from the environment, so a `tsgi` the app itself
 * starts is not mistaken for a worker.
 */
export function takeWorkerEnvironment(): WorkerEnvironment {
  const env = process.env;
  const spec: WorkerEnvironment = {
    workerId: Number(env.TSGI_WORKER_ID),
    masterPid: Number(env.TSGI_MASTER_PID),
    options: JSON.parse(env.TSGI_OPTIONS!) as Options,
    sockets: JSON.parse(env.TSGI_SOCKETS!) as InheritedSocket[],
    spooler: env.TSGI_SPOOLER,
  };
  for (const key of ENV_KEYS) delete env[key];
  return spec;
}
