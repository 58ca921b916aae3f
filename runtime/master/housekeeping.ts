/**
 * What the master does once per cycle besides supervising (semantics.md §1): refresh each
 * worker's memory figures on the scoreboard and sweep expired cache items. A single process
 * without master runs the same duties for itself.
 */
import { readFileSync } from 'node:fs';
import type { Options } from '../options.js';
import type { SharedState } from '../shared/state.js';

const PAGE = 4096;

/** RSS and VSZ in bytes from /proc/PID/statm, or zeros if the process is gone. */
function memoryOf(pid: number): [rss: number, vsz: number] {
  try {
    const [size, resident] = readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ').map(Number);
    return [(resident ?? 0) * PAGE, (size ?? 0) * PAGE];
  } catch {
    return [0, 0];
  }
}

/** Starts the duties; returns the function that stops them. */
export function startHousekeeping(shared: SharedState, options: Options): () => void {
  const { scoreboard, cache } = shared;
  const memory = setInterval(() => {
    for (let id = 1; id <= scoreboard.workers; id++) {
      const pid = scoreboard.pid(id);
      if (pid > 0) scoreboard.setMemory(id, ...memoryOf(pid));
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
