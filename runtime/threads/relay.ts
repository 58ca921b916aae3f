/**
 * Messages between a worker process's supervisor (pool.ts) and its worker_threads, over each
 * thread's MessagePort. Only the supervisor holds the process's IPC channel to the master, so
 * what a thread's api sends the master (signal registrations, raises, spooler wake-ups, zmq
 * disconnect notices) travels as `post`/`ask` to the supervisor, which sends it on and answers
 * `ask`s; the master's messages for the process reach the threads the other way.
 */
import type { MasterRequest } from '../ipc.js';
import type { InheritedSocket } from '../worker/worker.js';
import type { Options } from '../options.js';

/** Thread → supervisor. */
export type FromThread =
  | { kind: 'ready' }
  | { kind: 'post'; request: MasterRequest }
  | { kind: 'ask'; seq: number; request: MasterRequest; timeoutMs: number };

/** Supervisor → thread. */
export type ToThread =
  | { kind: 'stop' }
  | { kind: 'signal'; num: number }
  | { kind: 'zmq-disconnect'; keys: string }
  | { kind: 'answer'; seq: number; ok: boolean };

/** What a thread starts from (its workerData). */
export interface ThreadData {
  workerId: number;
  masterPid: number;
  /** 0-based thread id within the process. */
  thread: number;
  /** Its thread board slot (runtime/threads/board.ts). */
  slotIndex: number;
  options: Options;
  /** The process's listening sockets, each as this thread's own dup. */
  sockets: InheritedSocket[];
  /** This thread's dup of the shared region's fd. */
  regionFd: number;
}
