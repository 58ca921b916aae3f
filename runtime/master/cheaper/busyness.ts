/**
 * uWSGI's `busyness` cheaper algorithm (plugins/cheaper_busyness): every --cheaper-overload
 * seconds it averages how busy the workers were over that window, from the time their cores
 * spent in finished requests (the scoreboard's running_time, as uWSGI reads it).
 *
 *   above --cheaper-busyness-max: spawn --cheaper-step workers; if one was retired less than
 *     multiplier × overload ago, it was needed after all: the multiplier grows by the penalty
 *   below --cheaper-busyness-min: an idle cycle; after `multiplier` of them in a row, retire one
 *   in between: wait one more idle cycle; three such windows in a row reset the count
 *
 * and, every second, the listen queue (Linux, TCP sockets): more than
 * --cheaper-busyness-backlog-alert waiting, or any waiting for --cheaper-busyness-backlog-nonzero
 * seconds, spawns emergency workers, which are retired after the backlog multiplier's idle cycles.
 *
 * A worker with --async N cores is 100 % busy when all N were in requests all window long.
 */
import type { Options } from '../../options.js';
import { seconds, type CheaperAlgo, type CheaperView, type Decision } from './algo.js';
import { log } from '../../logger.js';

const BACKLOG_CHECK_MS = 1000;
/** Windows between min and max in a row that end the idle count (uWSGI's tolerance). */
const TOLERANCE = 3;

export class Busyness implements CheaperAlgo {
  readonly #overloadMs: number;
  readonly #cores: number;
  #multiplier: number;
  /** When the current window began (NaN before the first pass). */
  #windowStart = Number.NaN;
  /** running_time of each worker at the window's start. */
  #baseline = new Map<number, number>();
  #idleCycles = 0;
  #tolerance = 0;
  #lastRetire = 0;
  #emergency = 0;
  #lastBacklogCheck = Number.NEGATIVE_INFINITY;
  #nonzeroSince = 0;
  #lastBusyness = 0;
  /** The last decision was an emergency spawn: what gets spawned counts as emergency workers. */
  #askedEmergency = false;

  constructor(private readonly options: Options) {
    this.#overloadMs = options['cheaper-overload'] * 1000;
    this.#cores = options.async;
    this.#multiplier = options['cheaper-busyness-multiplier'];
  }

  decide(view: CheaperView): Decision | undefined {
    const { now, workers } = view;
    if (Number.isNaN(this.#windowStart)) this.#startWindow(view);
    const emergency = this.#backlogAlert(view);
    this.#askedEmergency = emergency !== undefined;
    if (emergency !== undefined || now - this.#windowStart < this.#overloadMs) return emergency;
    const busyness = this.#average(view);
    this.#startWindow(view);
    const o = this.options;
    if (busyness > o['cheaper-busyness-max']) {
      this.#idleCycles = this.#tolerance = 0;
      if (workers.length >= view.max) return undefined;
      return { spawn: o['cheaper-step'], reason: `${this.#window()} average busyness of ${workers.length} worker(s) is ${busyness} %, above ${o['cheaper-busyness-max']} %` };
    }
    if (busyness >= o['cheaper-busyness-min']) {
      if (++this.#tolerance >= TOLERANCE) this.#idleCycles = this.#tolerance = 0;
      return undefined;
    }
    this.#tolerance = 0;
    const needed = this.#emergency > 0 ? o['cheaper-busyness-backlog-multiplier'] : this.#multiplier;
    if (++this.#idleCycles < needed || workers.length <= view.min) {
      if (o['cheaper-busyness-verbose']) log(`cheaper: busyness ${busyness} %: need ${needed - this.#idleCycles} more idle cycle(s) to retire a worker`);
      return undefined;
    }
    this.#idleCycles = 0;
    return { retire: true, reason: `${this.#window()} average busyness of ${workers.length} worker(s) below ${o['cheaper-busyness-min']} % for ${needed} cycle(s)` };
  }

  #window(): string {
    return seconds(this.#overloadMs);
  }

  #startWindow({ now, workers }: CheaperView): void {
    this.#windowStart = now;
    this.#baseline = new Map(workers.map((worker) => [worker.slot, worker.runningTime]));
  }

  /** Percent of the window the workers' cores spent in requests, averaged over the workers. */
  #average({ now, workers }: CheaperView): number {
    const ready = workers.filter((worker) => worker.ready);
    if (ready.length === 0) return 0;
    const windowMicros = (now - this.#windowStart) * 1000 * this.#cores;
    let total = 0;
    for (const worker of ready) {
      const spent = worker.runningTime - (this.#baseline.get(worker.slot) ?? worker.runningTime);
      total += Math.min(100, (spent / windowMicros) * 100);
    }
    this.#lastBusyness = Math.round(total / ready.length);
    if (this.options['cheaper-busyness-verbose']) log(`cheaper: ${this.#window()} average busyness of ${ready.length} worker(s) is ${this.#lastBusyness} %`);
    return this.#lastBusyness;
  }

  /** Once a second: a listen queue too deep, or never empty for too long, spawns emergency workers. */
  #backlogAlert(view: CheaperView): Decision | undefined {
    const { now, workers } = view;
    if (now - this.#lastBacklogCheck < BACKLOG_CHECK_MS) return undefined;
    this.#lastBacklogCheck = now;
    const backlog = view.backlog();
    if (backlog === undefined || workers.length >= view.max) return undefined;
    const o = this.options;
    this.#nonzeroSince = backlog > 0 ? this.#nonzeroSince || now : 0;
    const nonzeroMs = o['cheaper-busyness-backlog-nonzero'] * 1000;
    if (o['cheaper-busyness-backlog-alert'] > 0 && backlog > o['cheaper-busyness-backlog-alert']) {
      return { spawn: o['cheaper-busyness-backlog-step'], reason: `${backlog} connections in the listen queue (more than ${o['cheaper-busyness-backlog-alert']}): emergency` };
    }
    if (nonzeroMs > 0 && this.#nonzeroSince > 0 && now - this.#nonzeroSince >= nonzeroMs) {
      this.#nonzeroSince = now;
      return { spawn: 1, reason: `the listen queue not empty for ${seconds(nonzeroMs)}: emergency` };
    }
    return undefined;
  }

  spawned(count: number, now: number): void {
    // Spawned back sooner than it took to retire: retiring was premature, so wait longer next time.
    if (this.#lastRetire > 0 && now - this.#lastRetire < this.#multiplier * this.#overloadMs) this.#multiplier += this.options['cheaper-busyness-penalty'];
    if (this.#askedEmergency) this.#emergency += count;
    this.#askedEmergency = false;
    this.#idleCycles = 0;
  }

  retired(now: number): void {
    this.#lastRetire = now;
    if (this.#emergency > 0) this.#emergency--;
  }

  nextDue(now: number): number | undefined {
    const due = this.#windowStart + this.#overloadMs;
    return due > now ? due : undefined;
  }

  stats(): Record<string, unknown> {
    return { busyness: this.#lastBusyness, multiplier: this.#multiplier, idle_cycles: this.#idleCycles, emergency: this.#emergency };
  }
}
