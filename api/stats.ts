/**
 * Who this worker is and how the instance is doing: identity, the effective options, the
 * scoreboard every worker writes in shared memory, memory figures, and a graceful reload.
 */
import type { Options } from '../runtime/options.js';
import { workersWithThreads, type WorkerWithThreads } from '../runtime/threads/stats.js';
import { processMemory } from '../runtime/stats/memory.js';
import { workerContext } from '../runtime/context.js';

const startedOn = Math.floor(Date.now() / 1000);

export const statsApi = {
  /**
   * This worker's id, 1-based (0 in a spooler process).
   * @example
   * start_response('200 OK', [['X-Worker', String(uwsgi.worker_id())]]);
   */
  worker_id(): number {
    return workerContext('worker_id').workerId;
  },
  /**
   * The master's pid, or 0 when tsgi runs as a single process without `--master`.
   * @example
   * process.kill(uwsgi.masterpid(), 'SIGHUP'); // graceful reload
   */
  masterpid(): number {
    return workerContext('masterpid').masterPid;
  },
  /**
   * Number of worker processes of this instance.
   * @example
   * const share = 1 / uwsgi.numproc;
   */
  get numproc(): number {
    return workerContext('numproc').numproc;
  },
  /**
   * The effective options, keyed by option name as on the command line.
   * @example
   * const cores = uwsgi.opt.async;
   */
  get opt(): Readonly<Options> {
    return workerContext('opt').options;
  },
  /**
   * Requests completed so far by the whole instance: every worker's count, summed from the
   * shared scoreboard (a worker's own count is in `uwsgi.workers()`).
   * @example
   * yield `served ${uwsgi.total_requests()} requests`;
   */
  total_requests(): number {
    return workerContext('total_requests').shared.scoreboard.totalRequests();
  },
  /**
   * Every worker of the instance, uWSGI's keys: id, pid, requests, delta_requests, exceptions,
   * signals, status ('idle'/'busy', or 'cheap' for a slot --cheaper left without a process),
   * rss, vsz (bytes), running_time and avg_rt (µs), last_spawn (unix s), respawn_count,
   * tx (bytes sent), accepting; with `--threads` also `threads`, one row per thread (id,
   * requests, delta_requests, exceptions, harakiri_count, respawn_count, status, busy_cores).
   * @example
   * const busy = uwsgi.workers().filter((w) => w.status === 'busy').length;
   */
  workers(): WorkerWithThreads[] {
    return workersWithThreads(workerContext('workers').shared);
  },
  /**
   * Which worker_thread of this worker runs the caller, 0-based (0 without `--threads`). Each
   * thread imported the app for itself: module-level state is per thread, shared state lives
   * in the cache, the queue or the scoreboard.
   * @example
   * start_response('200 OK', [['X-Thread', String(uwsgi.thread_id())]]);
   */
  thread_id(): number {
    return workerContext('thread_id').threadId ?? 0;
  },
  /**
   * When this worker process started (unix seconds).
   * @example
   * const uptime = Date.now() / 1000 - uwsgi.started_on;
   */
  get started_on(): number {
    workerContext('started_on');
    return startedOn;
  },
  /**
   * This process's memory as uWSGI's mem(): [rss, vsz] in bytes, the resident set and the
   * virtual size as the kernel counts them (/proc/self/statm). Node reserves address space
   * generously, so vsz is far larger than the heap; rss is the figure to watch.
   * @example
   * const [rss, vsz] = uwsgi.mem();
   */
  mem(): [rss: number, vsz: number] {
    workerContext('mem');
    return processMemory();
  },
  /**
   * Gracefully reloads the whole instance, as SIGHUP to the master does. True if requested.
   * @example
   * if (env.PATH_INFO === '/admin/reload') uwsgi.reload();
   */
  reload(): boolean {
    const context = workerContext('reload');
    try {
      process.kill(context.masterPid || process.pid, 'SIGHUP');
      return true;
    } catch {
      return false;
    }
  },
};
