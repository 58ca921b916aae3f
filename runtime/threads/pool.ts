/**
 * `--threads N`: a worker process whose main thread supervises N worker_threads, each a whole
 * Worker (worker.ts) with its own event loop, app import, scheduler and --async cores, accepting
 * on its own dups of the listening fds: `--threads 8 --processes 2` is 16 accept loops.
 *
 * Why the main thread serves nothing: it is what can always act. It holds the IPC channel to
 * the master and relays for the threads (relay.ts); it terminates a thread stuck in a JS loop
 * (Worker.terminate() interrupts running JavaScript) and starts another in its place while
 * the siblings keep serving; it repairs the shared locks a dead thread held (lock.ts keys them
 * by thread); it sums the threads' counters into the worker's scoreboard slot (board.ts).
 * A main thread that served too would be the one thread whose loop nobody could rescue.
 *
 * Per thread: harakiri (a stuck loop: terminate and replace; a stuck green thread: the thread's
 * own sweep, worker/harakiri.ts), --max-requests (each thread counts its own and is replaced
 * when spent), crashes (respawned after a growing pause). Per process, as without threads:
 * reload and chain reload (the master replaces the process, whose threads all drain), shutdown,
 * --reload-on-rss and --limit-as (memory belongs to the process), signals (one thread runs the
 * handler, in turn).
 */
import { log } from '../logger.js';
import { lockOwnerId } from '../shared/lock.js';
import { Field, slotFields, type WorkerSlot } from '../shared/scoreboard.js';
import { applyProcessLimits } from '../worker/limits.js';
import type { WorkerInit } from '../worker/worker.js';
import type { ThreadBoard } from './board.js';
import type { FromThread } from './relay.js';
import { PoolThread } from './thread.js';
import { watchThreads } from './watch.js';

/** How long terminate() may take before the thread counts as stuck outside JavaScript (it takes 3-100 ms). */
const TERMINATE_WAIT_MS = 3000;
/** What a stopping thread's mercy leaves its process to exit in (see #mercyMs). */
const STOP_MARGIN_MS = 500;
/** How long a thread that died after serving waits before its replacement starts, growing per death. */
const RESPAWN_DELAYS_MS = [0, 1000, 2000, 4000, 8000, 16000, 30000];

export class ThreadPool {
  readonly #board: ThreadBoard;
  readonly #slot: WorkerSlot;
  /** The serving thread per thread id (a recycled one's successor replaces it here at once). */
  readonly #current: PoolThread[] = [];
  readonly #all = new Set<PoolThread>();
  readonly #deaths: number[] = [];
  /** Set once every first thread served: a thread failing to boot later is respawned, not fatal. */
  #started = false;
  #nextSignal = 0;
  #stopping: Promise<void> | null = null;
  #allGone: () => void = () => {};
  #booted!: { resolve: () => void; reject: (code: number) => void };
  #stopWatching = () => {};

  /** What single.ts and process.ts read of a worker: requests running now. */
  readonly scheduler = { busyCount: 0 };
  readonly signals = { deliver: (num: number) => this.#deliverSignal(num) };

  private constructor(readonly init: WorkerInit) {
    this.#board = init.shared.threads!;
    this.#slot = init.shared.scoreboard.slot(init.workerId);
  }

  /** Starts every thread; resolves once all serve, rejects with the exit code of a thread that could not boot. */
  static async start(init: WorkerInit): Promise<ThreadPool> {
    applyProcessLimits(init.options); // once for the process: rlimits are per process
    const pool = new ThreadPool(init);
    const booted = new Promise<void>((resolve, reject) => (pool.#booted = { resolve, reject }));
    for (let id = 0; id < init.options.threads; id++) pool.#spawn(id, 0);
    try {
      await booted;
    } catch (code) {
      await pool.#terminateAll();
      throw Object.assign(new Error(`a thread of worker ${init.workerId} could not start`), { exitCode: code });
    }
    pool.#started = true;
    const seen = pool.#board.snapshot(init.workerId);
    const fields = slotFields(init.shared.region.area('scoreboard'), init.workerId);
    pool.#stopWatching = watchThreads(pool.init.options, {
      threads: () => [...pool.#all],
      heartbeat: (thread) => pool.#board.heartbeat(thread.slotIndex),
      beat: (now) => pool.#slot.beat(now),
      sum: () => {
        pool.#board.sumInto(fields, init.workerId, seen);
        pool.scheduler.busyCount = fields[Field.BusyCores]!;
      },
      stuck: (thread, ageMs) => void pool.#harakiri(thread, ageMs),
      overdue: (thread) => void pool.#terminate(thread, 'still running past --reload-mercy after it was told to stop'),
    });
    pool.#slot.setAccepting(true);
    log(`ready (pid ${process.pid}): ${init.options.threads} threads × ${init.options.async} core(s)`);
    return pool;
  }

  #spawn(id: number, generation: number): PoolThread {
    const slotIndex = this.#board.index(this.init.workerId, id, generation);
    this.#board.spawned(slotIndex);
    const thread = new PoolThread(this.init, id, generation, slotIndex, (t, m) => this.#received(t, m), (t, code) => this.#exited(t, code));
    this.#current[id] = thread;
    this.#all.add(thread);
    return thread;
  }

  #received(thread: PoolThread, message: FromThread): void {
    switch (message.kind) {
      case 'ready':
        thread.ready = true;
        if (this.#current.every((t) => t.ready)) this.#booted.resolve();
        return;
      case 'post':
        // --max-requests is counted per thread, so the thread is what gets recycled.
        if (message.request.act === 'recycle') return this.#recycle(thread, message.request.reason);
        if (message.request.act === 'zmq-disconnect') this.relayedDisconnects(message.request.keys, thread);
        return this.init.toMaster(message.request);
      case 'ask':
        void this.init.askMaster(message.request, message.timeoutMs).then((ok) => thread.send({ kind: 'answer', seq: message.seq, ok }));
    }
  }

  #recycle(thread: PoolThread, reason: string): void {
    if (this.#stopping !== null || this.#current[thread.id] !== thread) return;
    log(`thread ${thread.id}: ${reason}: a new thread takes over`);
    // The successor starts at once; the old thread stops accepting and drains once it serves.
    const successor = this.#spawn(thread.id, thread.generation + 1);
    const handOver = setInterval(() => {
      if (!successor.ready && successor.exitCode === null) return;
      clearInterval(handOver);
      thread.stop(this.#mercyMs());
    }, 20);
  }

  async #harakiri(thread: PoolThread, ageMs: number): Promise<void> {
    const limit = this.init.options.harakiri;
    log(`HARAKIRI ON WORKER ${this.init.workerId} THREAD ${thread.id} (pid ${process.pid}): its event loop has been stuck ${(ageMs / 1000).toFixed(1)} s > --harakiri ${limit} s: terminating the thread`);
    this.#board.countHarakiri(thread.slotIndex);
    await this.#terminate(thread, 'harakiri');
  }

  async #terminate(thread: PoolThread, why: string): Promise<void> {
    if (thread.terminated || thread.exitCode !== null) return;
    let timer: NodeJS.Timeout | undefined;
    thread.terminateWhy = why;
    const tooLong = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), TERMINATE_WAIT_MS).unref()));
    const gone = await Promise.race([thread.terminate().then(() => true), tooLong]);
    clearTimeout(timer);
    if (gone) return; // #exited logs it
    // terminate() stops JavaScript only: a thread blocked in a native call (a sync child process,
    // a blocking read) runs on. Only the process can end it: the master replaces it gracefully.
    log(`thread ${thread.id} still running ${TERMINATE_WAIT_MS / 1000} s after terminate() (${why}): it is stuck outside JavaScript, asking the master to replace this process`);
    this.init.toMaster({ act: 'recycle', reason: `thread ${thread.id} stuck outside JavaScript` });
  }

  #exited(thread: PoolThread, code: number): void {
    this.#all.delete(thread);
    if (thread.terminated) log(`thread ${thread.id} terminated in ${(performance.now() - thread.terminatedAt).toFixed(1)} ms (${thread.terminateWhy})`);
    // A lock the thread held is taken over and flagged, as the master does for a dead process.
    const owner = lockOwnerId(process.pid, thread.lockThread);
    const cacheLock = this.init.shared.cache?.lock.reap(owner) ?? false;
    const queueLock = this.init.shared.queue?.lock.reap(owner) ?? false;
    if (cacheLock || queueLock) log(`thread ${thread.id} died holding the ${cacheLock ? 'cache' : 'queue'} lock: taken over, repaired on next use`);
    if (this.#current[thread.id] === thread && (this.#stopping !== null || thread.stopping)) this.#board.gone(thread.slotIndex);
    if (this.#stopping !== null) {
      if (this.#all.size === 0) this.#allGone();
      return;
    }
    if (!this.#started && !thread.ready && !thread.terminated) return this.#booted.reject(code);
    if (thread.stopping && !thread.terminated) return; // recycled: its successor serves
    if (this.#current[thread.id] !== thread) return;
    const delay = this.#respawnDelay(thread);
    log(`thread ${thread.id} ${thread.terminated ? 'was terminated' : thread.crash ? `crashed (${thread.crash})` : `exited with code ${code}`}: respawning${delay > 0 ? ` in ${delay / 1000} s` : ''}`);
    setTimeout(() => {
      if (this.#stopping === null && this.#current[thread.id] === thread) this.#spawn(thread.id, thread.generation + 1);
    }, delay);
  }

  /** 0 after a thread that served a while; growing while threads die soon after starting. */
  #respawnDelay(thread: PoolThread): number {
    const now = Date.now();
    if (thread.terminated || now - thread.startedAt > 30_000) return 0;
    this.#deaths.push(now);
    while (this.#deaths.length > 0 && now - this.#deaths[0]! > 60_000) this.#deaths.shift();
    return RESPAWN_DELAYS_MS[Math.min(this.#deaths.length - 1, RESPAWN_DELAYS_MS.length - 1)]!;
  }

  /** A uWSGI signal for this worker: its handler runs in one thread, the next one each time. */
  #deliverSignal(num: number): void {
    const ready = this.#current.filter((thread) => thread.ready && !thread.stopping);
    if (ready.length === 0) return;
    ready[this.#nextSignal++ % ready.length]!.send({ kind: 'signal', num });
  }

  /** Mongrel2 disconnect notices: whichever thread runs the request halts it. */
  relayedDisconnects(keys: string, from?: PoolThread): void {
    for (const thread of this.#all) if (thread !== from) thread.send({ kind: 'zmq-disconnect', keys });
  }

  /** Graceful stop of every thread: each drains within --reload-mercy; one stuck past it is terminated. */
  stop(): Promise<void> {
    return (this.#stopping ??= new Promise<void>((resolve) => {
      this.#slot.setAccepting(false);
      if (this.#all.size === 0) return resolve();
      this.#allGone = resolve;
      for (const thread of this.#all) thread.stop(this.#mercyMs());
    }).then(() => this.#stopWatching()));
  }

  /**
   * How long a stopping thread may run: --reload-mercy less half a second (at most half of it),
   * so a thread stuck in a JS loop is terminated and its process exits by itself before the
   * master's own --reload-mercy kills the whole process.
   */
  #mercyMs(): number {
    const mercy = this.init.options['reload-mercy'] * 1000;
    return mercy - Math.min(STOP_MARGIN_MS, mercy / 2);
  }

  async #terminateAll(): Promise<void> {
    this.#stopping ??= Promise.resolve();
    await Promise.all([...this.#all].map((thread) => {
      thread.terminateWhy = 'another thread could not start';
      return thread.terminate();
    }));
  }
}
