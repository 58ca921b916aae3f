/** The scheduler and green threads in-process: ordering, budget, drain, halt, stale wake-ups. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { currentThread } from '../../green/current.js';
import { Scheduler } from '../../green/scheduler.js';
import { asyncSleep, suspend } from '../../green/suspend.js';
import { DRAIN, GreenThread, type Chunk } from '../../green/thread.js';

/** A thread whose output is an array; `full` makes emit report backpressure. */
class TestThread extends GreenThread {
  out: string[] = [];
  done = 0;
  crashed: unknown = null;
  halted: Error | null = null;
  full = false;
  drainWaits = 0;
  protected emit(chunk: Chunk): boolean {
    this.out.push(String(chunk));
    return !this.full;
  }
  awaitDrain(): void {
    this.drainWaits++;
  }
  protected complete(last?: Chunk): void {
    if (last !== undefined) this.out.push(String(last));
    this.done++;
    this.release();
  }
  protected crash(error: unknown): void {
    this.crashed = error;
    this.release();
  }
  protected onHalt(reason: Error): void {
    this.halted = reason;
  }
}

const makeScheduler = (cores = 2) => new Scheduler<TestThread>(cores, (scheduler, index) => new TestThread(scheduler as never, index));
const tick = () => new Promise((resolve) => setImmediate(resolve));
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('a plain function app completes synchronously and frees its core', () => {
  const scheduler = makeScheduler(1);
  const thread = scheduler.acquire()!;
  assert.is(scheduler.freeCount, 0);
  thread.start(() => 'hello', null, null);
  assert.equal(thread.out, ['hello']);
  assert.is(thread.done, 1);
  assert.is(scheduler.freeCount, 1);
});

test('saturation and availability hooks fire on the transitions only', () => {
  const scheduler = makeScheduler(2);
  const events: string[] = [];
  scheduler.onSaturated = () => events.push('full');
  scheduler.onAvailable = () => events.push('free');
  const a = scheduler.acquire()!;
  const b = scheduler.acquire()!;
  assert.is(scheduler.acquire(), null);
  a.release();
  b.release();
  assert.equal(events, ['full', 'free']);
});

test('a generator runs chunk by chunk; a long run yields to others after the step budget', async () => {
  const scheduler = makeScheduler(2);
  const a = scheduler.acquire()!;
  const b = scheduler.acquire()!;
  a.start(function* () { for (let i = 0; i < 100; i++) yield 'a'; }, null, null);
  b.start(function* () { yield 'b'; }, null, null);
  assert.ok(a.out.length < 100, 'a gave up the CPU before finishing');
  assert.is(b.done, 1, 'b ran while a was requeued');
  for (let i = 0; i < 5 && a.done === 0; i++) await tick();
  assert.is(a.out.length, 100);
  assert.is(a.done, 1);
});

test('backpressure parks the thread on DRAIN until resumed', () => {
  const scheduler = makeScheduler(1);
  const thread = scheduler.acquire()!;
  thread.full = true;
  thread.start(function* () { yield 'x'; yield 'y'; }, null, null);
  assert.is(thread.waiting, DRAIN);
  assert.is(thread.drainWaits, 1);
  thread.full = false;
  thread.resume(DRAIN, undefined);
  assert.equal(thread.out, ['x', 'y']);
  assert.is(thread.done, 1);
});

test('Promises resume the thread with their value; rejections are thrown into it', async () => {
  const scheduler = makeScheduler(1);
  const thread = scheduler.acquire()!;
  thread.start(function* () {
    const value: unknown = yield Promise.resolve(41);
    yield String((value as number) + 1);
    try {
      yield Promise.reject(new Error('no'));
    } catch (error) {
      yield (error as Error).message;
    }
  }, null, null);
  await tick();
  assert.equal(thread.out, ['42', 'no']);
  assert.is(thread.done, 1);
});

test('halt releases the wait, runs finally, and later wake-ups of that wait are ignored', async () => {
  const scheduler = makeScheduler(1);
  const thread = scheduler.acquire()!;
  const before = timers();
  let finallyRan = false;
  thread.start(function* () {
    try {
      yield asyncSleep(currentThread(), 30);
    } finally {
      finallyRan = true;
    }
  }, null, null);
  assert.is(timers(), before + 1);
  const sleeping = thread.waiting!;
  const generation = thread.generation;
  thread.halt(new Error('client gone'));
  assert.ok(finallyRan);
  assert.is(timers(), before, 'the sleep timer was cleared');
  assert.is(thread.halted!.message, 'client gone');
  assert.is(thread.generation, generation + 1);
  assert.is(scheduler.freeCount, 1);
  thread.resume(sleeping, undefined); // a stale wake-up must do nothing
  assert.equal(thread.out, []);
});

test('a bare async_sleep applies at the next yield, after that chunk is emitted', async () => {
  const scheduler = makeScheduler(1);
  const thread = scheduler.acquire()!;
  const started = Date.now();
  thread.start(function* () {
    asyncSleep(currentThread(), 0.05);
    yield 'first';
    yield 'second';
  }, null, null);
  assert.equal(thread.out, ['first']);
  while (thread.done === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(thread.out, ['first', 'second']);
  assert.ok(Date.now() - started >= 45);
});

test('suspend lets other threads run, and an uncaught generator error crashes the thread', async () => {
  const scheduler = makeScheduler(2);
  const order: string[] = [];
  const a = scheduler.acquire()!;
  const b = scheduler.acquire()!;
  a.start(function* () { order.push('a1'); yield suspend(currentThread()); order.push('a2'); }, null, null);
  b.start(function* () { order.push('b1'); yield 'x'; throw new Error('bad'); }, null, null);
  await tick();
  assert.equal(order, ['a1', 'b1', 'a2']);
  assert.is((b.crashed as Error).message, 'bad');
});

test.run();
