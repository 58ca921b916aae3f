/**
 * The green thread whose code is executing right now, whichever scheduler drives it. Bare api
 * calls (`uwsgi.async_sleep(1)` without yield, `uwsgi.ready_fd()`) attach to it: a request
 * core, a signal handler on the signal runner's pool, a spooler task. One process-wide slot
 * rather than a field per scheduler, because JS runs one thread's code at a time and the api
 * cannot know which scheduler that thread belongs to.
 */
import type { GreenThread } from './thread.js';

let current: GreenThread | null = null;

export function currentThread(): GreenThread | null {
  return current;
}

/** Makes `thread` current; returns the previous one, to hand back to {@link leaveThread}. */
export function enterThread(thread: GreenThread): GreenThread | null {
  const previous = current;
  current = thread;
  return previous;
}

export function leaveThread(previous: GreenThread | null): void {
  current = previous;
}
