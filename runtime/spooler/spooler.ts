/**
 * A spooler process's engine (uWSGI's `spooler_loop`): scan the directory, claim each ready task
 * with a file lock, run `uwsgi.spooler(task)` as a green thread, and act on its answer; then
 * sleep `--spooler-frequency` seconds, until the earliest pending `at`, or until woken by a new
 * task, whichever comes first.
 *
 * Claiming is what makes two spoolers on one directory safe: a task runs only under its fcntl
 * lock, and a finished task is unlinked before the lock is released, so whoever locks it next
 * finds it gone (nlink 0) and skips it. A spooler that dies mid-task loses its lock with its
 * process and the file stays: it runs again later (at-least-once).
 */
import { tsgiError } from '../errors.js';
import { closeSync, fstatSync, openSync, readSync, unlinkSync } from 'node:fs';
import { Scheduler } from '../../green/scheduler.js';
import { GreenThread } from '../../green/thread.js';
import { log, logError } from '../logger.js';
import { native } from '../native.js';
import { listTasks, type TaskEntry } from './scan.js';
import type { SpoolerHarakiri } from './harakiri.js';
import type { SpoolerSlot } from '../shared/spooler-board.js';
import { decodeSpoolFile } from './spool-file.js';

/** The handler's answers, as uWSGI's constants. Anything else, or a throw, means retry. */
export const SPOOL_OK = -2;
export const SPOOL_RETRY = -1;
export const SPOOL_IGNORE = 0;

/** What `uwsgi.spooler` receives: the stored pairs, the file's name, and the body if any. */
export interface SpoolerTask {
  [key: string]: string | Buffer | undefined;
  spooler_task_name: string;
  body?: Buffer;
}
export type SpoolerHandler = (task: SpoolerTask) => unknown;

export interface SpoolerInit {
  dir: string;
  /** Seconds between scans when nobody wakes the spooler. */
  frequency: number;
  /** Tasks run at once (green threads). */
  cores: number;
  /** Stop asking for tasks after this many (0: never) and call `onRecycle`. */
  maxTasks: number;
  /** This process's place among the spoolers of its directory: `index` of `count`. */
  peer: { index: number; count: number };
  /** The current `uwsgi.spooler`, read at every task (the app may set it late). */
  handler: () => unknown;
  onRecycle: () => void;
  /** Watches how long each task runs (--spooler-harakiri), or null. */
  harakiri: SpoolerHarakiri | null;
  /** This process's counters for the stats server, or null. */
  stats: SpoolerSlot | null;
}

class TaskThread extends GreenThread {
  entry: TaskEntry | null = null;
  fd = -1;
  handler: SpoolerHandler | null = null;
  outcome: unknown = undefined;

  constructor(scheduler: Scheduler<TaskThread>, index: number, private readonly spooler: Spooler) {
    super(scheduler as never, index);
  }
  protected emit(): boolean {
    return true; // a task has no client: yielded chunks go nowhere
  }
  awaitDrain(): void {}
  protected complete(): void {
    this.spooler.settle(this, this.outcome, null);
  }
  protected crash(error: unknown): void {
    this.spooler.settle(this, SPOOL_RETRY, error);
  }
  protected onHalt(): void {
    this.spooler.interrupted(this);
  }
}

/** Runs the handler inside the thread: its generator or Promise is driven, its value kept. */
function* runHandler(thread: TaskThread, task: SpoolerTask): Generator<unknown, void, unknown> {
  let result = thread.handler!(task);
  if (isIterator(result)) result = yield* result;
  else if (isThenable(result)) result = yield result;
  else if (isAsyncIterator(result)) result = yield finishAsync(result);
  thread.outcome = result;
}

export class Spooler {
  readonly scheduler: Scheduler<TaskThread>;
  /** The current scan's tasks, and the next one to try. */
  #queue: TaskEntry[] = [];
  #next = 0;
  /** Tasks this process runs right now (its own threads must not claim them twice). */
  readonly #running = new Set<string>();
  /** Names already reported (a broken file, a non-constant answer): one line each, not one per scan. */
  readonly #reported = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  #woken = false;
  #pumpQueued = false;
  #stopping = false;
  #completed = 0;

  constructor(readonly init: SpoolerInit) {
    this.scheduler = new Scheduler<TaskThread>(init.cores, (scheduler, index) => new TaskThread(scheduler, index, this));
  }

  start(): void {
    this.#scan();
  }

  /** A task was queued: scan now if idle, else right after the current scan. */
  wake(): void {
    if (this.#stopping) return;
    if (this.#timer === null) return void (this.#woken = true);
    clearTimeout(this.#timer);
    this.#timer = null;
    this.#scan();
  }

  #scan(): void {
    this.#woken = false;
    try {
      this.#queue = ownFirst(listTasks(this.init.dir), this.init.peer);
    } catch (error) {
      log(`spooler ${this.init.dir}: cannot scan: ${(error as Error).message}`);
      this.#queue = [];
    }
    this.#next = 0;
    this.#pump();
  }

  /** Starts queued tasks while threads are free; when the scan is used up, plans the next one. */
  #pump(): void {
    if (this.#stopping) return;
    const now = Date.now();
    const queue = this.#queue;
    // A plain handler settles inside #run: a recycle it triggers must stop this loop too.
    while (this.#next < queue.length && this.scheduler.freeCount > 0 && !this.#stopping) {
      const entry = queue[this.#next++]!;
      if (entry.readyAt > now || this.#running.has(entry.path)) continue;
      const claimed = claim(entry.path);
      if (claimed !== null) this.#run(entry, claimed.fd, claimed.bytes);
    }
    if (this.#next < queue.length || this.#timer !== null) return;
    this.#timer = setTimeout(() => this.#rescan(), this.#woken ? 0 : this.#sleepMs(now));
  }

  /**
   * Until the next scan: --spooler-frequency, or sooner when a task's `at` falls due first, so
   * `at` is kept to the second (uWSGI keeps it only to the scan). Tasks left over because every
   * thread was busy are not counted here: a settling task pumps them.
   */
  #sleepMs(now: number): number {
    let wake = now + this.init.frequency * 1000;
    for (const entry of this.#queue) if (entry.readyAt > now && entry.readyAt < wake) wake = entry.readyAt;
    // +1: mtimes carry sub-millisecond parts, and claim() compares them with a whole-ms clock.
    return Math.ceil(wake - now) + 1;
  }

  #rescan(): void {
    this.#timer = null;
    if (!this.#stopping) this.#scan();
  }

  #run(entry: TaskEntry, fd: number, bytes: Buffer): void {
    let task: SpoolerTask;
    try {
      const { vars, body } = decodeSpoolFile(bytes, entry.name);
      task = { ...vars, spooler_task_name: entry.name };
      if (body !== null) task.body = body;
    } catch (error) {
      closeSync(fd);
      return this.#reportOnce(entry.name, `spooler: skipping ${entry.path}: ${(error as Error).message}`);
    }
    const handler = this.init.handler();
    if (typeof handler !== 'function') {
      closeSync(fd);
      return this.#reportOnce('no handler', `spooler: tasks are waiting in ${this.init.dir} but uwsgi.spooler is not a function: set uwsgi.spooler = (task) => uwsgi.SPOOL_OK in the app`);
    }
    const thread = this.scheduler.acquire()!;
    thread.entry = entry;
    thread.fd = fd;
    thread.handler = handler as SpoolerHandler;
    thread.outcome = undefined;
    this.#running.add(entry.path);
    this.init.stats?.setRunning(this.#running.size);
    this.init.harakiri?.started(thread.index);
    thread.start(runHandler as never, thread, task);
  }

  /** The handler finished (or threw: `error`). */
  settle(thread: TaskThread, outcome: unknown, error: unknown): void {
    const entry = thread.entry!;
    if (error !== null) {
      logError(`spooler task ${entry.name} failed: it stays queued for a retry`, error);
    } else if (outcome === SPOOL_OK) {
      // Before the lock goes: a spooler that locks the file next must find it unlinked.
      try {
        unlinkSync(entry.path);
      } catch (unlinkError) {
        log(`spooler: task ${entry.name} done but not removed: ${(unlinkError as Error).message}`);
      }
    } else if (outcome === SPOOL_IGNORE) {
      this.#reportOnce(entry.name, `spooler: task ${entry.name} ignored by the handler (SPOOL_IGNORE): left in ${this.init.dir}`);
    } else if (outcome !== SPOOL_RETRY) {
      this.#reportOnce(entry.name, `spooler: task ${entry.name}: the handler returned ${String(outcome)}, not uwsgi.SPOOL_OK: kept for a retry`);
    }
    this.init.stats?.countTask();
    this.#release(thread);
    if (this.init.maxTasks > 0 && ++this.#completed >= this.init.maxTasks) {
      this.#stopping = true;
      if (this.scheduler.busyCount === 0) this.init.onRecycle();
      return;
    }
    // Not from here: a plain handler settles inside thread.start, and starting the next task
    // from within would nest one stack frame set per task.
    if (!this.#pumpQueued) {
      this.#pumpQueued = true;
      queueMicrotask(() => {
        this.#pumpQueued = false;
        this.#pump();
      });
    }
  }

  /** Halted by a stop past the mercy time: the task stays for the next spooler. */
  interrupted(thread: TaskThread): void {
    log(`spooler: task ${thread.entry!.name} interrupted by the shutdown: it stays queued`);
    this.#release(thread, false);
  }

  #release(thread: TaskThread, freeCore = true): void {
    this.init.harakiri?.finished(thread.index);
    closeSync(thread.fd);
    this.#running.delete(thread.entry!.path);
    this.init.stats?.setRunning(this.#running.size);
    thread.entry = null;
    thread.fd = -1;
    thread.handler = null;
    if (freeCore) thread.release();
  }

  #reportOnce(key: string, line: string): void {
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    log(line);
  }

  /** Graceful stop: no new tasks; running ones get `mercy` seconds, then are halted. */
  async stop(mercy: number): Promise<void> {
    this.#stopping = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#queue = [];
    const deadline = Date.now() + mercy * 1000;
    while (this.scheduler.busyCount > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
    for (const thread of this.scheduler.threads) thread.halt(tsgiError('TSGI_ERR_CANCELLED', 'spooler stopping'));
  }

  get busy(): number {
    return this.scheduler.busyCount;
  }
}

/**
 * Puts the tasks this spooler is meant to take first (by a hash of the name: each of `count`
 * spoolers owns a share), then the others, each part in run order. Spoolers sharing a directory
 * then rarely race for one file, and still pick up what a busy or dead sibling leaves.
 */
function ownFirst(tasks: TaskEntry[], peer: { index: number; count: number }): TaskEntry[] {
  if (peer.count < 2) return tasks;
  const own: TaskEntry[] = [];
  const others: TaskEntry[] = [];
  for (const task of tasks) (nameHash(task.name) % peer.count === peer.index ? own : others).push(task);
  return own.concat(others);
}

/** djb2 over the name: task names end in random digits, so shares come out even. */
function nameHash(name: string): number {
  let hash = 5381;
  for (let i = 0; i < name.length; i++) hash = ((hash << 5) + hash + name.charCodeAt(i)) >>> 0;
  return hash;
}

/**
 * Opens, locks and reads a task; null when another spooler holds it or has already finished
 * it, or when its time has not come. The time is checked again under the lock: a uWSGI writer
 * sets the mtime (`at`) while it holds the lock, after the scan may have seen the file.
 */
function claim(path: string): { fd: number; bytes: Buffer } | null {
  let fd: number;
  try {
    fd = openSync(path, 'r+');
  } catch {
    return null; // finished and removed meanwhile
  }
  try {
    if (native.tryLockFile(fd)) {
      const stats = fstatSync(fd);
      if (stats.nlink > 0 && stats.mtimeMs <= Date.now()) return { fd, bytes: readWhole(fd, stats.size) };
    }
  } catch (error) {
    log(`spooler: cannot claim ${path}: ${(error as Error).message}`);
  }
  closeSync(fd);
  return null;
}

/** The file's `size` bytes (the fstat just done: readFileSync would fstat again). */
function readWhole(fd: number, size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  let length = 0;
  while (length < size) {
    const read = readSync(fd, bytes, length, size - length, length);
    if (read === 0) break;
    length += read;
  }
  return bytes.subarray(0, length);
}

function isIterator(value: unknown): value is Generator<unknown, unknown, unknown> {
  return typeof (value as Iterator<unknown> | null)?.next === 'function' && typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function';
}

function isAsyncIterator(value: unknown): value is AsyncIterator<unknown, unknown, unknown> {
  return typeof (value as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function';
}

/** Runs an async generator handler to its end and gives its return value. */
async function finishAsync(iterator: AsyncIterator<unknown, unknown, unknown>): Promise<unknown> {
  for (;;) {
    const step = await iterator.next();
    if (step.done) return step.value;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}
