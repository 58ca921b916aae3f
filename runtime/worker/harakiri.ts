/**
 * The worker's side of `--harakiri`: once a second one timer (not one per request) beats the
 * worker's scoreboard slot, so the master sees a stuck event loop (master/harakiri.ts), and
 * sweeps the busy cores: a request older than the limit has its green thread halted — its
 * `tsgi.signal` fires, its pending wait is released, its `finally` blocks run and the client
 * gets a 504 (or a closed connection if the response had begun) — while the other cores carry
 * on. uWSGI kills the whole worker instead, and under gevent the wrong request's worker.
 */
import { tsgiError } from '../errors.js';
import { log } from '../logger.js';
import type { Options } from '../options.js';
import type { Scheduler } from '../../green/scheduler.js';
import type { Core, CoreReporting } from './core.js';

const SWEEP_MS = 1000;

export class WorkerHarakiri {
  readonly #limitMs: number;
  readonly #verbose: boolean;

  private constructor(options: Options, private readonly scheduler: Scheduler<Core>, private readonly reporting: CoreReporting) {
    this.#limitMs = options.harakiri * 1000;
    this.#verbose = options['harakiri-verbose'];
  }

  /** Starts the beat and the sweep when `--harakiri` is set; nobody reads the beat otherwise. */
  static start(options: Options, scheduler: Scheduler<Core>, reporting: CoreReporting): WorkerHarakiri | null {
    if (options.harakiri <= 0) return null;
    const harakiri = new WorkerHarakiri(options, scheduler, reporting);
    harakiri.tick();
    // Unref'd: the beat must not keep a stopping worker alive.
    setInterval(() => harakiri.tick(), SWEEP_MS).unref();
    return harakiri;
  }

  tick(): void {
    this.reporting.slot.beat(Date.now());
    if (this.scheduler.busyCount === 0) return;
    const now = performance.now();
    const oldest = now - this.#limitMs;
    for (const core of this.scheduler.threads) if (core.busy && core.env !== null && core.startedAt < oldest) this.#halt(core, now);
  }

  #halt(core: Core, now: number): void {
    const env = core.env!;
    const age = ((now - core.startedAt) / 1000).toFixed(1);
    const sent = core.headersSent ? 'response begun: connection closed' : '504 sent';
    const detail = this.#verbose
      ? `: ${env.REQUEST_METHOD} ${env.REQUEST_URI ?? env.PATH_INFO} from ${env.REMOTE_ADDR ?? '-'}, waiting on ${core.waiting?.constructor.name ?? 'nothing (running)'}`
      : '';
    log(`HARAKIRI ON WORKER ${this.reporting.id} (pid ${process.pid}, core ${core.index}): request running ${age} s > --harakiri ${this.#limitMs / 1000} s: halted (${sent})${detail}`);
    this.reporting.slot.countHarakiri();
    core.halt(tsgiError('TSGI_ERR_HARAKIRI', `the request ran longer than --harakiri ${this.#limitMs / 1000} s`));
  }
}
