/**
 * Requests per second per worker, from the requests counters of two snapshots and the time
 * between them (uwsgitop does the same). The counters count for a slot's lifetime, across
 * respawns, so a difference is never negative; a worker seen for the first time has no rate yet.
 */
import type { StatsDocument } from './stats-source.js';

export class RateMeter {
  #previous = new Map<number, number>();
  #previousAt = 0;

  /** Each worker's rate since the last update (undefined: first sight). */
  update(document: StatsDocument, now: number): Map<number, number | undefined> {
    const seconds = (now - this.#previousAt) / 1000;
    const rates = new Map<number, number | undefined>();
    const current = new Map<number, number>();
    for (const worker of document.workers) {
      current.set(worker.id, worker.requests);
      const before = this.#previous.get(worker.id);
      rates.set(worker.id, before === undefined || seconds <= 0 ? undefined : Math.max(0, worker.requests - before) / seconds);
    }
    this.#previous = current;
    this.#previousAt = now;
    return rates;
  }
}
