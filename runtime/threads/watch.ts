/**
 * The supervisor's one timer: it sums the threads' counters into the worker's slot, beats the
 * worker's heartbeat (the supervisor's loop runs no app code, so the master's harakiri only
 * fires if the whole process hangs), and finds the threads whose own heartbeat stopped for
 * longer than --harakiri (a JS loop that never yields) or that outlived their stop's mercy.
 */
import type { Options } from '../options.js';
import type { PoolThread } from './thread.js';

/** Counters reach the worker's slot at most this late (uWSGI's master sums once a cycle, 1 s). */
const TICK_MS = 200;
/** A thread beats once a second (worker/harakiri.ts): a beat this much older than the limit is a stuck loop. */
const BEAT_MS = 1000;

export interface WatchedPool {
  threads(): PoolThread[];
  heartbeat(thread: PoolThread): number;
  beat(now: number): void;
  sum(): void;
  stuck(thread: PoolThread, ageMs: number): void;
  overdue(thread: PoolThread): void;
}

/** Starts watching; returns the function that stops it (after one last sum). */
export function watchThreads(options: Options, pool: WatchedPool): () => void {
  const limitMs = options.harakiri * 1000;
  const tick = () => {
    const now = Date.now();
    pool.sum();
    pool.beat(now);
    for (const thread of pool.threads()) {
      if (thread.terminated || thread.exitCode !== null) continue;
      if (thread.stopping && now > thread.stopDeadline) {
        pool.overdue(thread);
        continue;
      }
      if (limitMs <= 0 || !thread.ready) continue;
      const beat = pool.heartbeat(thread);
      if (beat > 0 && now - beat > limitMs + BEAT_MS) pool.stuck(thread, now - beat);
    }
  };
  const timer = setInterval(tick, TICK_MS);
  return () => {
    clearInterval(timer);
    pool.sum();
  };
}
