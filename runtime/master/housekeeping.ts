/**
 * What the master does once per cycle besides supervising (semantics.md §1): refresh each
 * worker's memory figures on the scoreboard and sweep expired cache items. A single process
 * without master runs the same duties for itself.
 */
import type { Options } from '../options.js';
import type { SharedState } from '../shared/state.js';
import { processMemory } from '../stats/memory.js';

/** Starts the duties; returns the function that stops them. */
export function startHousekeeping(shared: SharedState, options: Options): () => void {
  const { scoreboard, cache } = shared;
  const memory = setInterval(() => {
    for (let id = 1; id <= scoreboard.workers; id++) {
      const pid = scoreboard.pid(id);
      if (pid > 0) scoreboard.setMemory(id, ...processMemory(pid));
    }
  }, 1000);
  const sweeper = cache ? setInterval(() => cache.sweep(), options['cache-expire-freq'] * 1000) : undefined;
  memory.unref();
  sweeper?.unref();
  return () => {
    clearInterval(memory);
    clearInterval(sweeper);
  };
}
