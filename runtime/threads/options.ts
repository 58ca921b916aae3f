/**
 * The Threads rows of the option table (runtime/options.ts): worker_threads inside each worker
 * process (runtime/threads/pool.ts), and uWSGI's `--enable-threads`, which only matters to
 * CPython's GIL and is accepted here so uWSGI configurations load unchanged.
 */
import type { OptionRow } from '../options.js';

/** The lock owner word keeps 9 bits for the thread (runtime/shared/lock.ts): 511 at most, 256 is plenty. */
export const MAX_THREADS = 256;

export const THREAD_ROWS = [
  { name: 'threads', kind: 'int', arg: 'N', section: 'Threads', min: 1, max: MAX_THREADS, default: 1, help: 'worker_threads per worker process, each with its own event loop, app import, --async cores and dup of every listening socket (1: the worker serves on its main thread)' },
  { name: 'enable-threads', kind: 'flag', section: 'Threads', default: false, help: 'accepted for uWSGI compatibility (it turns on the Python GIL there): Node apps may always start threads of their own' },
] as const satisfies readonly OptionRow[];
