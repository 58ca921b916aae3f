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
  /** The app whose handler runs (runtime/apps/current-app.ts reads it). */
  appId = 0;
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
  /** Signal number → the handler of each app that registered it (app id → handler). */
  readonly #handlers = new Map<number, Map<number, SignalHandler>>();
  readonly #scheduler = new Scheduler<SignalThread>(SIGNAL_CORES, (scheduler, index) => new SignalThread(scheduler as never, index));
  readonly #waiting: Array<[number, number, SignalHandler]> = [];

  /** `onRun` counts each handler run (the scoreboard's `signals`). */
  constructor(private readonly onRun: () => void = () => {}) {
    this.#scheduler.onAvailable = () => queueMicrotask(() => this.#runWaiting());
  }

  /**
   * In a worker of many apps (runtime/apps/) each app has its own handler for a number: a
   * second app registering it adds its handler rather than replacing the first app's, and a
   * delivered signal runs the handler of every app that registered it. One app registering
   * again replaces its own, as in uWSGI.
   */
  register(num: number, handler: SignalHandler, app = 0): void {
    let byApp = this.#handlers.get(num);
    if (byApp === undefined) this.#handlers.set(num, (byApp = new Map()));
    byApp.set(app, handler);
  }

  has(num: number): boolean {
    return this.#handlers.has(num);
  }

  /** Runs the handlers of `num` (from this worker's own table), or logs that there is none. */
  deliver(num: number): void {
    const byApp = this.#handlers.get(num);
    if (byApp === undefined) return log(`signal ${num}: no handler in this worker: dropped`);
    for (const [app, handler] of byApp) {
      const thread = this.#scheduler.acquire();
      if (thread === null) this.#waiting.push([num, app, handler]);
      else this.#run(thread, num, app, handler);
    }
  }

  #run(thread: SignalThread, num: number, app: number, handler: SignalHandler): void {
    this.onRun();
    thread.num = num;
    thread.appId = app;
    thread.start(handler, num, undefined);
  }

  #runWaiting(): void {
    for (let thread = this.#scheduler.acquire(); thread !== null; thread = this.#scheduler.acquire()) {
      const next = this.#waiting.shift();
      if (next === undefined) return thread.release();
      this.#run(thread, next[0], next[1], next[2]);
    }
  }

  /** Handlers still running (a stopping worker lets them finish like requests). */
  get busy(): number {
    return this.#scheduler.busyCount;
  }
}
