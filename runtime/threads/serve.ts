/**
 * What a worker process (or the single process) serves with: the Worker itself on the main
 * thread, or with --threads a ThreadPool of workers in worker_threads (pool.ts). Both answer
 * the same few calls: stop gracefully, run a uWSGI signal, pass on Mongrel2 disconnects.
 */
import { Worker, type WorkerInit } from '../worker/worker.js';

export type ServingWorker = Pick<Worker, 'stop' | 'relayedDisconnects'> & {
  readonly signals: { deliver(num: number): void };
  readonly scheduler: { readonly busyCount: number };
};

/** The thread pool's modules load only with --threads: a worker without threads does not carry them. */
export async function startServing(init: WorkerInit): Promise<ServingWorker> {
  return init.options.threads > 1 ? (await import('./pool.js')).ThreadPool.start(init) : Worker.start(init);
}
