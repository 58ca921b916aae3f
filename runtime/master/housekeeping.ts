/**
 * What the master does on its loop besides supervising (uWSGI's `core/master.c`): refresh each
 * worker's memory figures on the scoreboard once a second, sweep expired cache items every
 * `--cache-expire-freq` seconds, and reap the cache and queue locks of a child that died
 * holding one. A single process without master runs the same duties for itself.
 */
import type { SharedState } from '../shared/state.js';
import { processMemory } from '../stats/memory.js';
import type { MasterHost, Subsystem } from './subsystem.js';

const MEMORY_EVERY_MS = 1000;

export class Housekeeping implements Subsystem {
  readonly name = 'housekeeping';
  #shared!: SharedState;
  #sweepEveryMs = 0;
  #nextMemory = 0;
  #nextSweep = 0;

  start(host: MasterHost): void {
    this.#shared = host.shared;
    this.#sweepEveryMs = host.options['cache-expire-freq'] * 1000;
    this.#nextSweep = Date.now() + this.#sweepEveryMs;
  }

  cycle(now: number): number {
    const { scoreboard, cache } = this.#shared;
    if (now >= this.#nextMemory) {
      this.#nextMemory = now + MEMORY_EVERY_MS;
      for (let id = 1; id <= scoreboard.workers; id++) {
        const pid = scoreboard.pid(id);
        if (pid > 0) scoreboard.setMemory(id, ...processMemory(pid));
      }
    }
    if (cache === null) return this.#nextMemory;
    if (now >= this.#nextSweep) {
      this.#nextSweep = now + this.#sweepEveryMs;
      cache.sweep();
    }
    return Math.min(this.#nextMemory, this.#nextSweep);
  }

  /** A lock the dead child held in a cache or queue operation frees now (the next taker repairs). */
  childExited(pid: number): void {
    this.#shared.cache?.lock.reap(pid);
    this.#shared.queue?.lock.reap(pid);
  }
}
