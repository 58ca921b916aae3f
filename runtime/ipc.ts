/**
 * Master ↔ worker messages over the Node IPC channel, and the environment a worker is
 * spawned with. Acts are a closed set; each side dispatches on `act`.
 */
import type { Options } from './options.js';
import type { InheritedSocket } from './worker.js';

import type { SignalRequest } from './signal-hub.js';

/** Master → worker: finish what you serve, then exit; or run the handler of a uWSGI signal. */
export type MasterMessage = { act: 'stop' } | { act: 'signal'; num: number };
/** Worker → master: the app is loaded and the worker accepts; or a signal-subsystem request. */
export type WorkerMessage = { act: 'ready' } | SignalRequest;

/** The first inherited fd: stdio 0-2 are shared, 3 is the IPC channel, sockets follow. */
export const FIRST_SOCKET_FD = 4;

const ENV_KEYS = ['TSGI_WORKER_ID', 'TSGI_MASTER_PID', 'TSGI_OPTIONS', 'TSGI_SOCKETS'] as const;

export interface WorkerEnvironment {
  workerId: number;
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
  };
}

/** True in a process the master spawned as a worker. */
export function isWorkerProcess(): boolean {
  return process.env.TSGI_WORKER_ID !== undefined;
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
  };
  for (const key of ENV_KEYS) delete env[key];
  return spec;
}
