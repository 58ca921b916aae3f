/**
 * A suspension is one thing a green thread waits on: a timer, an fd, its turn in the run queue,
 * a Promise, the socket draining. Every suspension knows how to start waiting (`enter`) and how
 * to undo that wait (`cancel`), so halting a thread never leaves a timer or fd watch behind.
 */
import type { GreenThread } from './thread.js';

export abstract class Suspension {
  /** Starts the wait; later calls `thread.resume(this, value)` or `thread.fail(this, error)`. */
  abstract enter(thread: GreenThread): void;
  /** Undoes `enter` when the thread is halted before the wait ended. */
  abstract cancel(thread: GreenThread): void;

  /**
   * Suspensions are thenables so async functions can `await uwsgi.async_sleep(1)`. Awaiting
   * runs the wait on its own, outside any green thread, and withdraws it from the thread that
   * registered it as pending (a bare call inside an async app must not also pause the thread).
   */
  then<T = unknown, E = never>(
    onFulfilled?: ((value: unknown) => T | PromiseLike<T>) | null,
    onRejected?: ((reason: unknown) => E | PromiseLike<E>) | null,
  ): Promise<T | E> {
    const registrant = this.registrant;
    if (registrant && registrant.pending === this) registrant.pending = null;
    this.registrant = null;
    return this.standalone().then(onFulfilled, onRejected);
  }

  /** The thread whose next yield will apply this suspension (a bare, un-yielded call). */
  registrant: GreenThread | null = null;

  /** The same wait as a plain Promise, for `await` outside the scheduler. */
  protected abstract standalone(): Promise<unknown>;
}
