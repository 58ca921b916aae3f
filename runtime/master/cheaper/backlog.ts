/**
 * uWSGI's `backlog` cheaper algorithm (Linux, TCP sockets): once a second, as uWSGI's master
 * cycle, spawn --cheaper-step workers while more than --cheaper-overload connections wait in
 * the listen queues, and retire one while fewer do.
 *
 * One difference from uWSGI, which retires a worker whenever the queue is short: here the
 * worker retired must have been idle (no busy core, no request finished) since the previous
 * check. A short queue with every worker busy is a loaded instance, not a cheap one.
 */
import type { CheaperAlgo, CheaperView, Decision } from './algo.js';

const CHECK_MS = 1000;

export class Backlog implements CheaperAlgo {
  #lastCheck = 0;
  /** Each worker's requests at the last check. */
  #requests = new Map<number, number>();
  #lastBacklog = 0;

  constructor(private readonly threshold: number, private readonly step: number) {}

  decide(view: CheaperView): Decision | undefined {
    const { now, workers, min } = view;
    if (now - this.#lastCheck < CHECK_MS) return undefined;
    this.#lastCheck = now;
    const previous = this.#requests;
    this.#requests = new Map(workers.map((worker) => [worker.slot, worker.requests]));
    const backlog = (this.#lastBacklog = view.backlog() ?? 0);
    if (backlog > this.threshold) {
      return workers.length < view.max ? { spawn: this.step, reason: `${backlog} connections in the listen queue (more than ${this.threshold})` } : undefined;
    }
    if (backlog >= this.threshold || workers.length <= min) return undefined;
    const idle = [...workers].reverse().find((worker) => worker.ready && !worker.busy && previous.get(worker.slot) === worker.requests);
    return idle && { retire: true, slot: idle.slot, reason: `${backlog} connections in the listen queue (fewer than ${this.threshold}), worker ${idle.slot} idle` };
  }

  nextDue(now: number): number | undefined {
    return this.#lastCheck + CHECK_MS > now ? this.#lastCheck + CHECK_MS : undefined;
  }

  stats(): Record<string, unknown> {
    return { backlog: this.#lastBacklog };
  }
}
