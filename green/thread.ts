/**
 * A green thread runs one request on one core. It drives whatever the app returned — a value,
 * an array, a generator, a Promise, an async iterable — writing chunks as they come and parking
 * on suspensions, and it is the only code that calls next/throw/return on the app's generator.
 *
 * Threads are preallocated, one per core, and reused: the per-request path allocates nothing
 * here, and a plain function app never touches a Promise.
 */
import { tsgiError } from '../runtime/errors.js';
import { logError } from '../runtime/logger.js';
import type { Scheduler } from './scheduler.js';
import { enterThread, leaveThread } from './current.js';
import { Suspension } from './suspension.js';

/** A body chunk: strings are sent as UTF-8. */
export type Chunk = string | Uint8Array;

const enum Phase { Idle, Result, Iterator, AsyncNext, AsyncDrain }

/** How many chunks a thread may write in a row before it lets the other threads run. */
const STEP_BUDGET = 64;

export function isChunk(value: unknown): value is Chunk {
  return typeof value === 'string' || value instanceof Uint8Array;
}

/** Waits for a Promise or thenable; the thread ignores it if it was halted meanwhile. */
class PromiseWait extends Suspension {
  constructor(private readonly promise: PromiseLike<unknown>) {
    super();
  }
  enter(thread: GreenThread): void {
    try {
      this.promise.then((value) => thread.resume(this, value), (error) => thread.fail(this, error));
    } catch (error) {
      thread.fail(this, error);
    }
  }
  cancel(): void {}
  protected standalone(): Promise<unknown> {
    return Promise.resolve(this.promise);
  }
}

/** Waits until the thread's output can take more bytes (set up by the runtime's `awaitDrain`). */
class DrainWait extends Suspension {
  enter(thread: GreenThread): void {
    thread.awaitDrain();
  }
  cancel(): void {}
  protected standalone(): Promise<unknown> {
    return Promise.resolve();
  }
}
export const DRAIN: Suspension = new DrainWait();

/** Gives the other threads (and the event loop) a turn: `yield ''`, `suspend()`, the step budget. */
export class Requeue extends Suspension {
  enter(thread: GreenThread): void {
    thread.scheduler.requeue(thread);
  }
  cancel(): void {}
  protected standalone(): Promise<unknown> {
    return new Promise((resolve) => setImmediate(resolve));
  }
}
export const REQUEUE: Suspension = new Requeue();

export abstract class GreenThread {
  /** Incremented whenever the thread is released: wake-ups from an older request are ignored. */
  generation = 0;
  busy = false;
  /** What the thread is parked on, if anything. */
  waiting: Suspension | null = null;
  /** A suspension called without `yield` (`uwsgi.async_sleep(20)`): applied at the next yield. */
  pending: Suspension | null = null;
  /** The fd that ended the last fd wait, or -1; and whether it ended by timeout. */
  readyFd = -1;
  timedOut = false;

  #phase = Phase.Idle;
  #iterator: Iterator<unknown, unknown, unknown> | null = null;
  #asyncIterator: AsyncIterator<unknown> | null = null;
  /** A suspension yielded while a pending one existed: it runs once the pending one ends. */
  #deferred: Suspension | null = null;
  #running = false;

  constructor(readonly scheduler: Scheduler<GreenThread>, readonly index: number) {}

  /** Writes a chunk; false means the output is full and `awaitDrain` must be used. */
  protected abstract emit(chunk: Chunk): boolean;
  /** Arranges `this.resume(DRAIN, undefined)` once the output drained. */
  abstract awaitDrain(): void;
  /** The body is complete: finish the response (with a last chunk if given). */
  protected abstract complete(last?: Chunk): void;
  /** The app failed: answer 500 if nothing was sent yet, else break the connection; log it. */
  protected abstract crash(error: unknown): void;
  /** The thread is being halted: fire abort signals and the like. */
  protected abstract onHalt(reason: Error): void;
  /**
   * A chunk was yielded while `suspension` was pending from a call without `yield`: it runs
   * now, after the chunk, not where it was called. The runtime may warn (under --ugreen).
   */
  protected onBareSuspension(_suspension: Suspension): void {}

  /** Calls `app(a, b)` as this thread and runs what it returns. */
  start(app: (a: never, b: never) => unknown, a: unknown, b: unknown): void {
    let result: unknown;
    this.#running = true;
    const previous = enterThread(this);
    try {
      result = app(a as never, b as never);
    } catch (error) {
      return this.#fail(error);
    } finally {
      leaveThread(previous);
      this.#running = false;
    }
    this.#consume(result);
  }

  /** Ends the wait on `from` with `value` (ignored unless the thread still waits on it). */
  resume(from: Suspension, value: unknown): void {
    if (this.waiting !== from) return;
    // A thenable that settles inside enter(): finish the current step first.
    if (this.#running) return void queueMicrotask(() => this.resume(from, value));
    this.waiting = null;
    if (this.#applyQueued()) return;
    this.#continue(false, value);
  }

  /** Ends the wait on `from` by throwing `error` into the thread. */
  fail(from: Suspension, error: unknown): void {
    if (this.waiting !== from) return;
    if (this.#running) return void queueMicrotask(() => this.fail(from, error));
    this.waiting = null;
    this.#continue(true, error);
  }

  /**
   * Stops the thread now: its wait is released (timer cleared, fd watch closed), its
   * generator is returned so `finally` blocks run, and the core is freed.
   */
  halt(reason: Error): void {
    if (!this.busy) return;
    if (this.#running) {
      const generation = this.generation;
      return void queueMicrotask(() => generation === this.generation && this.halt(reason));
    }
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.cancel(this);
    this.#dropQueued();
    this.onHalt(reason);
    this.#closeIterators();
    this.release();
  }

  /** Frees the core for the next request. The runtime calls it once the response is done. */
  release(): void {
    this.#phase = Phase.Idle;
    this.#iterator = null;
    this.#asyncIterator = null;
    this.waiting = null;
    this.#dropQueued();
    this.readyFd = -1;
    this.timedOut = false;
    this.generation++;
    this.scheduler.release(this);
  }

  #consume(result: unknown): void {
    if (isChunk(result)) return this.#guard(this.complete, result);
    if (result === undefined || result === null) return this.#guard(this.complete, undefined);
    if (Array.isArray(result)) return this.#consumeArray(result);
    const value = result as { next?: unknown; then?: unknown; [Symbol.asyncIterator]?: unknown; [Symbol.iterator]?: unknown };
    // Async generators have next() too: they must be recognised before plain iterators.
    if (typeof value.then === 'function') {
      this.#phase = Phase.Result;
      return this.#park(value instanceof Suspension ? value : new PromiseWait(value as PromiseLike<unknown>));
    }
    if (typeof value[Symbol.asyncIterator] === 'function') {
      this.#asyncIterator = (value as AsyncIterable<unknown>)[Symbol.asyncIterator]();
      return this.#pumpAsync();
    }
    if (typeof value.next === 'function') {
      this.#iterator = value as Iterator<unknown, unknown, unknown>;
      this.#phase = Phase.Iterator;
      return this.#drive(false, undefined);
    }
    if (typeof value[Symbol.iterator] === 'function') {
      this.#iterator = (value as Iterable<unknown>)[Symbol.iterator]();
      this.#phase = Phase.Iterator;
      return this.#drive(false, undefined);
    }
    this.#fail(tsgiError('TSGI_ERR_APP_YIELD', `the app returned ${describe(result)}: return a string, Buffer, array, iterable, generator or Promise`));
  }

  #consumeArray(chunks: readonly unknown[]): void {
    const last = chunks.length - 1;
    try {
      for (let i = 0; i < last; i++) this.emit(checkChunk(chunks[i]));
      this.complete(last >= 0 ? checkChunk(chunks[last]) : undefined);
    } catch (error) {
      this.#fail(error);
    }
  }

  /** Steps the generator until it parks, finishes or fails. */
  #drive(throwing: boolean, input: unknown): void {
    const iterator = this.#iterator!;
    this.#running = true;
    const previous = enterThread(this);
    try {
      for (let budget = STEP_BUDGET; ; ) {
        let step: IteratorResult<unknown>;
        try {
          step = throwing ? iterator.throw!(input) : iterator.next(input);
        } catch (error) {
          this.#iterator = null; // a generator that threw is already closed
          return this.#fail(error);
        }
        if (step.done) {
          this.#iterator = null;
          return this.#finish(step.value);
        }
        const value = step.value;
        throwing = false;
        input = undefined;
        if (isChunk(value)) {
          if (value.length !== 0) {
            try {
              if (!this.emit(value)) return this.#park(DRAIN);
            } catch (error) {
              return this.#fail(error);
            }
          }
          if (this.pending !== null) {
            this.onBareSuspension(this.pending);
            return this.#park(this.#takePending());
          }
          if (value.length === 0 || --budget === 0) return this.#park(REQUEUE);
        } else if (value instanceof Suspension) {
          return this.#parkAfterPending(value);
        } else if (value === undefined || value === null) {
          return this.#park(this.pending !== null ? this.#takePending() : REQUEUE);
        } else if (typeof (value as PromiseLike<unknown>).then === 'function') {
          return this.#parkAfterPending(new PromiseWait(value as PromiseLike<unknown>));
        } else {
          throwing = true;
          input = tsgiError('TSGI_ERR_APP_YIELD', `yielded ${describe(value)}: yield strings, Buffers, Promises or uwsgi suspensions`);
        }
      }
    } finally {
      leaveThread(previous);
      this.#running = false;
    }
  }

  /** Awaits the next item of an async iterable (async generator, Readable stream). */
  #pumpAsync(): void {
    let next: PromiseLike<IteratorResult<unknown>>;
    try {
      next = this.#asyncIterator!.next();
    } catch (error) {
      return this.#fail(error);
    }
    this.#phase = Phase.AsyncNext;
    this.#park(new PromiseWait(next));
  }

  #onAsyncItem(step: IteratorResult<unknown>): void {
    if (step.done) {
      this.#asyncIterator = null;
      return this.#finish(step.value);
    }
    try {
      const chunk = checkChunk(step.value);
      if (chunk.length !== 0 && !this.emit(chunk)) {
        this.#phase = Phase.AsyncDrain;
        return this.#park(DRAIN);
      }
    } catch (error) {
      return this.#fail(error);
    }
    this.#pumpAsync();
  }

  #continue(throwing: boolean, value: unknown): void {
    switch (this.#phase) {
      case Phase.Iterator:
        return this.#drive(throwing, value);
      case Phase.Result:
        return throwing ? this.#fail(value) : this.#consume(value);
      case Phase.AsyncNext:
        return throwing ? this.#fail(value) : this.#onAsyncItem(value as IteratorResult<unknown>);
      case Phase.AsyncDrain:
        return this.#pumpAsync();
    }
  }

  #park(suspension: Suspension): void {
    this.waiting = suspension;
    suspension.enter(this);
  }

  #parkAfterPending(suspension: Suspension): void {
    if (this.pending === suspension) this.#takePending();
    if (this.pending === null) return this.#park(suspension);
    this.#deferred = suspension;
    this.#park(this.#takePending());
  }

  #takePending(): Suspension {
    const pending = this.pending!;
    this.pending = null;
    pending.registrant = null;
    return pending;
  }

  /** Runs a pending or deferred suspension before the thread may continue; true if one ran. */
  #applyQueued(): boolean {
    if (this.pending !== null) {
      this.#park(this.#takePending());
      return true;
    }
    const deferred = this.#deferred;
    if (deferred === null) return false;
    this.#deferred = null;
    this.#park(deferred);
    return true;
  }

  #dropQueued(): void {
    if (this.pending !== null) this.#takePending();
    this.#deferred = null;
  }

  /**
   * The generator returned `value`: a chunk is its last chunk (`return 'tail'`), undefined
   * ends the body, anything else is a mistake that must not pass silently as an empty body.
   */
  #finish(value: unknown): void {
    if (value === undefined || isChunk(value)) return this.#guard(this.complete, value);
    this.#fail(tsgiError('TSGI_ERR_APP_YIELD', `the generator returned ${describe(value)}: return a string, Buffer or Uint8Array (its last chunk), or nothing`));
  }

  /** Runs one of the runtime's output hooks; an exception there is an app failure. */
  #guard(hook: (last?: Chunk) => void, last: Chunk | undefined): void {
    try {
      hook.call(this, last);
    } catch (error) {
      this.#fail(error);
    }
  }

  #fail(error: unknown): void {
    this.#closeIterators();
    this.#dropQueued();
    this.crash(error);
  }

  /** Returns the app's generator or async iterator so its `finally` blocks run. */
  #closeIterators(): void {
    const iterator = this.#iterator;
    const asyncIterator = this.#asyncIterator;
    this.#iterator = null;
    this.#asyncIterator = null;
    if (iterator && typeof iterator.return === 'function') {
      this.#running = true;
      const previous = enterThread(this);
      try {
        iterator.return(undefined);
      } catch (error) {
        // The request is over already: the log is the only place left to report it.
        logFinallyError(error);
      } finally {
        leaveThread(previous);
        this.#running = false;
        this.#dropQueued();
      }
    }
    if (asyncIterator && typeof asyncIterator.return === 'function') {
      try {
        Promise.resolve(asyncIterator.return(undefined)).catch(logFinallyError);
      } catch (error) {
        logFinallyError(error);
      }
    }
  }
}

const FINALLY_FAILED = "the app's finally block threw while its generator was closed";

function logFinallyError(error: unknown): void {
  logError(FINALLY_FAILED, error);
}

function checkChunk(value: unknown): Chunk {
  if (isChunk(value)) return value;
  throw tsgiError('TSGI_ERR_APP_YIELD', `body chunk is ${describe(value)}: use strings, Buffers or Uint8Arrays`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'Object'})`;
  return `a ${typeof value}`;
}
