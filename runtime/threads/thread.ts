/**
 * One worker_thread of a worker process, as its supervisor (pool.ts) sees it: started with its
 * own dup of every listening fd and of the shared region's fd, and cleaned up when it exits.
 *
 * Why a dup per thread: a fd closed by one thread is closed for the whole process, and a
 * sibling still polling that number hangs (FEASIBILITY 3b). With its own dups, a thread that
 * stops (graceful, or terminated by harakiri) takes only its own descriptors with it.
 */
import { Worker as NodeWorker } from 'node:worker_threads';
import { oneLine } from '../logger.js';
import { native } from '../native.js';
import type { WorkerInit } from '../worker/worker.js';
import type { FromThread, ThreadData, ToThread } from './relay.js';

const ENTRY = new URL('./entry.js', import.meta.url);

export class PoolThread {
  readonly #worker: NodeWorker;
  readonly #fds: number[];
  readonly startedAt = Date.now();
  ready = false;
  /** Told to stop (reload, shutdown, recycle): its exit is expected. */
  stopping = false;
  /** When a stop must be over; past it the thread is terminated. */
  stopDeadline = 0;
  /** Terminated by the supervisor (harakiri, a stop past its mercy). */
  terminated = false;
  exitCode: number | null = null;
  /** The uncaught exception that ended it (one line), '' if none did. */
  crash = '';

  constructor(
    init: WorkerInit,
    readonly id: number,
    readonly generation: number,
    readonly slotIndex: number,
    onMessage: (thread: PoolThread, message: FromThread) => void,
    onExit: (thread: PoolThread, code: number) => void,
  ) {
    const sockets = init.sockets.map((socket) => ({ ...socket, fd: native.dup(socket.fd) }));
    const regionFd = native.dup(init.shared.region.fd);
    this.#fds = [...sockets.map((socket) => socket.fd), regionFd];
    const data: ThreadData = { workerId: init.workerId, masterPid: init.masterPid, thread: id, slotIndex, options: init.options, sockets, regionFd };
    this.#worker = new NodeWorker(ENTRY, { workerData: data });
    this.#worker.on('message', (message: FromThread) => onMessage(this, message));
    // An uncaught exception ends the thread: its 'exit' follows, and its log line says why.
    this.#worker.on('error', (error) => (this.crash = oneLine(error)));
    this.#worker.on('exit', (code) => {
      this.exitCode = code;
      this.#closeFds();
      onExit(this, code);
    });
  }

  /** The thread's id as the lock words carry it (thread 0 is the main thread: runtime/shared/lock.ts). */
  get lockThread(): number {
    return this.id + 1;
  }

  get threadId(): number {
    return this.#worker.threadId;
  }

  send(message: ToThread): void {
    if (this.exitCode === null) this.#worker.postMessage(message);
  }

  /** Graceful: the thread stops accepting, finishes its requests within `mercyMs`, then exits. */
  stop(mercyMs: number): void {
    if (this.stopping) return;
    this.stopping = true;
    this.stopDeadline = Date.now() + mercyMs;
    this.send({ kind: 'stop' });
  }

  /** When terminate() was called (performance.now()), 0 if it was not. */
  terminatedAt = 0;
  /** Why it was terminated, for the log line of its exit. */
  terminateWhy = '';

  /** Stops the thread wherever it is, a JS loop included; resolves once it is gone. */
  async terminate(): Promise<void> {
    this.terminated = true;
    this.terminatedAt = performance.now();
    await this.#worker.terminate();
  }

  #closeFds(): void {
    for (const fd of this.#fds.splice(0)) {
      try {
        native.close(fd);
      } catch {
        // already closed by the thread's own teardown
      }
    }
  }
}
