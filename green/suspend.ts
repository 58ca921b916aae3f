/**
 * The suspensions apps create through the api: sleeping, giving up the CPU and waiting for an
 * fd. Each is a value the thread yields (or awaits). As in uWSGI, a call made without `yield`
 * inside a green thread is registered on that thread and takes effect at its next yield.
 */
import { native, POLL_READABLE, POLL_WRITABLE, type Poll } from '../runtime/native.js';
import { tsgiError } from '../runtime/errors.js';
import { Requeue, type GreenThread } from './thread.js';
import { Suspension } from './suspension.js';

export class Sleep extends Suspension {
  #timer: NodeJS.Timeout | null = null;

  constructor(readonly ms: number) {
    super();
  }
  enter(thread: GreenThread): void {
    this.#timer = setTimeout(wakeSleeper, this.ms, thread, this);
  }
  cancel(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
  /** @internal */
  fired(): void {
    this.#timer = null;
  }
  protected standalone(): Promise<unknown> {
    return new Promise((resolve) => setTimeout(resolve, this.ms));
  }
}

/**
 * A value that is ready now, in the shape of a suspension, so an api call that is sometimes
 * local (ready) and sometimes remote (a Promise) is yielded or awaited the same way: the yield
 * evaluates to the value, after one microtask.
 */
export class Resolved<T> extends Suspension {
  constructor(readonly value: T) {
    super();
  }
  enter(thread: GreenThread): void {
    thread.resume(this, this.value);
  }
  cancel(): void {}
  protected standalone(): Promise<unknown> {
    return Promise.resolve(this.value);
  }
}

function wakeSleeper(thread: GreenThread, sleep: Sleep): void {
  sleep.fired();
  thread.resume(sleep, undefined);
}

interface FdWatch {
  fd: number;
  events: number;
}

/**
 * Waits until any of its fds is ready (or the timeout passes), without consuming data: the
 * thread resumes with the ready fd, or null on timeout (and `thread.timedOut` is set).
 */
export class FdWait extends Suspension {
  readonly watches: FdWatch[] = [];
  timeoutMs = 0;
  #polls: Poll[] = [];
  #timer: NodeJS.Timeout | null = null;

  constructor(fd: number, events: number, timeoutMs: number) {
    super();
    this.add(fd, events);
    this.timeoutMs = timeoutMs;
  }

  /** Adds another fd (uWSGI's wait-for-any: several wait_fd_* calls before one yield). */
  add(fd: number, events: number): void {
    if (!Number.isInteger(fd) || fd < 0) throw tsgiError('TSGI_ERR_API_FD', `cannot wait on fd ${String(fd)}: not a file descriptor`);
    this.watches.push({ fd, events });
  }

  enter(thread: GreenThread): void {
    try {
      for (const { fd, events } of this.watches) {
        const poll = new native.Poll(fd, () => this.#settle(thread, fd));
        this.#polls.push(poll);
        poll.start(events);
      }
    } catch (error) {
      this.#release();
      const code = (error as NodeJS.ErrnoException).code;
      return thread.fail(this, tsgiError('TSGI_ERR_API_FD', `cannot wait on fd ${this.watches.map((w) => w.fd).join(', ')}: ${code ?? (error as Error).message}`));
    }
    if (this.timeoutMs > 0) this.#timer = setTimeout(() => this.#settle(thread, -1), this.timeoutMs);
  }

  cancel(): void {
    this.#release();
  }

  #settle(thread: GreenThread, fd: number): void {
    this.#release();
    thread.readyFd = fd;
    thread.timedOut = fd < 0;
    thread.resume(this, fd < 0 ? null : fd);
  }

  #release(): void {
    for (const poll of this.#polls) poll.close();
    this.#polls = [];
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  protected standalone(): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const polls: Poll[] = [];
      const done = (fd: number | null) => {
        for (const poll of polls) poll.close();
        clearTimeout(timer);
        resolve(fd);
      };
      const timer = this.timeoutMs > 0 ? setTimeout(done, this.timeoutMs, null) : undefined;
      try {
        for (const { fd, events } of this.watches) {
          const poll = new native.Poll(fd, () => done(fd));
          polls.push(poll);
          poll.start(events);
        }
      } catch (error) {
        for (const poll of polls) poll.close();
        clearTimeout(timer);
        reject(tsgiError('TSGI_ERR_API_FD', `cannot wait on fd: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`));
      }
    });
  }
}

function register<S extends Suspension>(thread: GreenThread | null, suspension: S): S {
  if (thread !== null && thread.pending === null) {
    thread.pending = suspension;
    suspension.registrant = thread;
  }
  return suspension;
}

/** `async_sleep(seconds)`: fractions of a second are honoured (uWSGI truncates to whole seconds). */
export function asyncSleep(thread: GreenThread | null, seconds: number): Suspension {
  const ms = Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : 0;
  const pending = thread?.pending;
  // wait_fd_read(fd) followed by async_sleep(5) before one yield: the sleep is the fd timeout.
  if (pending instanceof FdWait && pending.timeoutMs === 0 && ms > 0) {
    pending.timeoutMs = ms;
    return pending;
  }
  return register(thread, ms === 0 ? new Requeue() : new Sleep(ms));
}

/** `suspend()`: let every other ready thread run, then continue. */
export function suspend(thread: GreenThread | null): Suspension {
  return register(thread, new Requeue());
}

/** `wait_fd_read(fd[, timeout])` / `wait_fd_write(fd[, timeout])`. */
export function waitFd(thread: GreenThread | null, fd: number, writable: boolean, timeoutSeconds = 0): Suspension {
  const events = writable ? POLL_WRITABLE : POLL_READABLE;
  const timeoutMs = Number.isFinite(timeoutSeconds) && timeoutSeconds > 0 ? Math.round(timeoutSeconds * 1000) : 0;
  const pending = thread?.pending;
  if (pending instanceof FdWait) {
    pending.add(fd, events);
    if (pending.timeoutMs === 0) pending.timeoutMs = timeoutMs;
    return pending;
  }
  if (pending instanceof Sleep) {
    // async_sleep(5) then wait_fd_read(fd): the fd wait takes the sleep as its timeout.
    const wait = new FdWait(fd, events, timeoutMs || pending.ms);
    thread!.pending = null;
    pending.registrant = null;
    return register(thread, wait);
  }
  return register(thread, new FdWait(fd, events, timeoutMs));
}
