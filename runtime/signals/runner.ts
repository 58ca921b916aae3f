/**
 * The worker's side of uWSGI signals: its own handler table, and handlers run as green threads
 * on a small pool of their own, so a signal is served even while every request core is busy.
 * A handler may be a plain function, a generator (it may yield suspensions) or async.
 */
import { Scheduler } from '../../green/scheduler.js';
import { GreenThread } from '../../green/thread.js';
import { log, logError } from '../logger.js';

export type SignalHandler = (num: number) => unknown;

/** Handlers running at once per worker; more signals wait in order. */
const SIGNAL_CORES = 16;

class SignalThread extends GreenThread {
  num = -1;
  protected emit(): boolean {
    return true; // a handler has no client: yielded chunks go nowhere
  }
  awaitDrain(): void {}
  protected complete(): void {
    this.release();
  }
  protected crash(error: unknown): void {
    logError(`signal ${this.num} handler failed`, error);
    this.release();
  }
  protected onHalt(): void {}
}

export class SignalRunner {
  readonly #handlers = new Map<number, SignalHandler>();
  readonly #scheduler = new Scheduler<SignalThread>(SIGNAL_CORES, (scheduler, index) => new SignalThread(scheduler as never, index));
  readonly #waiting: number[] = [];

  /** `onRun` counts each handler run (the scoreboard's `signals`). */
  constructor(private readonly onRun: () => void = () => {}) {
    this.#scheduler.onAvailable = () => queueMicrotask(() => this.#runWaiting());
  }

  register(num: number, handler: SignalHandler): void {
    this.#handlers.set(num, handler);
  }

  has(num: number): boolean {
    return this.#handlers.has(num);
  }

  /** Runs the handler of `num` (from this worker's own table), or logs that there is none. */
  deliver(num: number): void {
    if (!this.#handlers.has(num)) return log(`signal ${num}: no handler in this worker: dropped`);
    const thread = this.#scheduler.acquire();
    if (thread === null) return void this.#waiting.push(num);
    this.#run(thread, num);
  }

  #run(thread: SignalThread, num: number): void {
    this.onRun();
    thread.num = num;
    thread.start(this.#handlers.get(num)!, num, undefined);
  }

  #runWaiting(): void {
    for (let thread = this.#scheduler.acquire(); thread !== null; thread = this.#scheduler.acquire()) {
      const num = this.#waiting.shift();
      if (num === undefined) return thread.release();
      this.#run(thread, num);
    }
  }

  /** Handlers still running (a stopping worker lets them finish like requests). */
  get busy(): number {
    return this.#scheduler.busyCount;
  }
}
