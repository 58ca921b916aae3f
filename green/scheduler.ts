/**
 * The per-worker cooperative scheduler: `--async N` cores, each a preallocated green thread.
 *
 * It sits on the Node event loop rather than owning one: timers, fd polls and sockets wake
 * threads directly from their libuv callbacks. What it owns is the set of free cores (so the
 * worker can stop accepting when none is left) and the run queue of threads that gave up the
 * CPU (`yield ''`, `suspend()`, a long run of chunks), drained once per loop turn so I/O and
 * timers get their turn in between.
 */
import { Requeue, type GreenThread } from './thread.js';

export class Scheduler<T extends GreenThread = GreenThread> {
  readonly threads: readonly T[];
  /** Called when the last free core is taken / when a core frees up again. */
  onSaturated: () => void = noop;
  onAvailable: () => void = noop;

  #free: T[];
  #runQueue: GreenThread[] = [];
  #runGenerations: number[] = [];
  #flushScheduled = false;
  #saturated = false;

  constructor(cores: number, create: (scheduler: Scheduler<T>, index: number) => T) {
    const threads: T[] = [];
    for (let i = 0; i < cores; i++) threads.push(create(this, i));
    this.threads = threads;
    // Popped from the end: core 0 is handed out first and reused while it stays warm.
    this.#free = threads.slice().reverse();
  }

  get cores(): number {
    return this.threads.length;
  }

  get busyCount(): number {
    return this.threads.length - this.#free.length;
  }

  get freeCount(): number {
    return this.#free.length;
  }

  /** Takes a free core, or returns null when all are busy. */
  acquire(): T | null {
    const thread = this.#free.pop();
    if (thread === undefined) return null;
    thread.busy = true;
    if (this.#free.length === 0 && !this.#saturated) {
      this.#saturated = true;
      this.onSaturated();
    }
    return thread;
  }

  /** Returns a core to the pool (called by GreenThread.release). */
  release(thread: GreenThread): void {
    if (!thread.busy) return;
    thread.busy = false;
    this.#free.push(thread as T);
    if (this.#saturated) {
      this.#saturated = false;
      this.onAvailable();
    }
  }

  /** Resumes `thread` on the next loop turn, after pending I/O callbacks. */
  requeue(thread: GreenThread): void {
    this.#runQueue.push(thread);
    this.#runGenerations.push(thread.generation);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(flushRunQueue, this);
    }
  }

  /** @internal */
  flush(): void {
    this.#flushScheduled = false;
    const queue = this.#runQueue;
    const generations = this.#runGenerations;
    this.#runQueue = [];
    this.#runGenerations = [];
    for (let i = 0; i < queue.length; i++) {
      const thread = queue[i]!;
      const waiting = thread.waiting;
      if (thread.generation === generations[i] && waiting instanceof Requeue) thread.resume(waiting, undefined);
    }
  }
}

function flushRunQueue(scheduler: Scheduler): void {
  scheduler.flush();
}

function noop(): void {}
