/**
 * uWSGI's default cheaper algorithm, `spare`: when every worker has been busy for
 * --cheaper-overload seconds, spawn --cheaper-step more; when the load is gone, stop them one at
 * a time, at most one every --cheaper-overload seconds.
 *
 * Idleness is judged per worker, by the scoreboard: a worker counts as idle once it has had no
 * busy core and finished no request for --cheaper-overload seconds. Sampling "some worker is
 * idle right now" instead would retire workers of a loaded instance in the instant between two
 * requests, and then spawn them again as soon as the rest are busy.
 */
import { seconds, type CheaperAlgo, type CheaperView, type Decision } from './algo.js';

interface Idle {
  since: number;
  requests: number;
}

export class Spare implements CheaperAlgo {
  #allBusySince = 0;
  #nextRetireAt = 0;
  readonly #idle = new Map<number, Idle>();

  constructor(private readonly overloadMs: number, private readonly step: number) {}

  decide(view: CheaperView): Decision | undefined {
    const { now, workers } = view;
    const allBusy = workers.length > 0 && workers.every((worker) => worker.ready && worker.busy);
    this.#allBusySince = allBusy ? this.#allBusySince || now : 0;
    if (allBusy && now - this.#allBusySince >= this.overloadMs && workers.length < view.max) {
      this.#allBusySince = now; // the next step needs another full period of overload
      return { spawn: this.step, reason: `all ${workers.length} workers busy for ${seconds(this.overloadMs)}` };
    }
    return this.#idleOne(view);
  }

  /**
   * The highest-numbered worker idle a whole period (so the ones left stay 1…N in the stats),
   * if no retire came in the last period.
   */
  #idleOne({ now, workers, min }: CheaperView): Decision | undefined {
    let chosen: { slot: number; since: number } | undefined;
    for (const worker of workers) {
      const idle = this.#idle.get(worker.slot);
      if (!worker.ready || worker.busy) this.#idle.delete(worker.slot); // idle counts from the first pass that sees it idle
      else if (idle === undefined || idle.requests !== worker.requests) this.#idle.set(worker.slot, { since: now, requests: worker.requests });
      else if (now - idle.since >= this.overloadMs) chosen = { slot: worker.slot, since: idle.since };
    }
    for (const slot of this.#idle.keys()) if (!workers.some((worker) => worker.slot === slot)) this.#idle.delete(slot);
    if (chosen === undefined || workers.length <= min || now < this.#nextRetireAt) return undefined;
    return { retire: true, slot: chosen.slot, reason: `worker ${chosen.slot} idle for ${seconds(now - chosen.since)}` };
  }

  retired(now: number): void {
    this.#nextRetireAt = now + this.overloadMs;
    this.#allBusySince = 0;
  }

  nextDue(now: number): number | undefined {
    const due = [this.#allBusySince && this.#allBusySince + this.overloadMs, this.#nextRetireAt, ...[...this.#idle.values()].map((idle) => idle.since + this.overloadMs)];
    const future = due.filter((at) => at > now); // a time already past would spin the master's loop
    return future.length === 0 ? undefined : Math.min(...future);
  }
}
