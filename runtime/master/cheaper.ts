/**
 * The cheaper subsystem (uWSGI's `--cheaper`): workers on demand. The instance starts
 * --cheaper-initial workers (default --cheaper) and, once per master pass, an algorithm
 * (cheaper/spare.ts, backlog.ts, busyness.ts) looks at the scoreboard and decides whether to
 * spawn more, up to --processes, or retire one, down to --cheaper. Spawning adds a slot to the
 * workers' pool; retiring removes one, whose child finishes the requests it serves and exits
 * (never cut mid-request; --reload-mercy still bounds it).
 */
import { log } from '../logger.js';
import { native } from '../native.js';
import type { Options } from '../options.js';
import type { CheaperAlgo, CheaperView, Decision, WorkerSample } from './cheaper/algo.js';
import { Backlog } from './cheaper/backlog.js';
import { Busyness } from './cheaper/busyness.js';
import { Spare } from './cheaper/spare.js';
import type { ChildPool } from './child-pool.js';
import type { MasterHost, StatsRows, Subsystem } from './subsystem.js';

const ALGOS: Record<Options['cheaper-algo'], (options: Options) => CheaperAlgo> = {
  spare: (o) => new Spare(o['cheaper-overload'] * 1000, o['cheaper-step']),
  backlog: (o) => new Backlog(o['cheaper-overload'], o['cheaper-step']),
  busyness: (o) => new Busyness(o),
};

/** How many workers the instance starts with: all of --processes unless cheaper mode is on. */
export function startingWorkers(options: Options): number {
  return options.cheaper > 0 ? options['cheaper-initial'] ?? options.cheaper : options.processes;
}

export class Cheaper implements Subsystem {
  readonly name = 'cheaper';
  #host!: MasterHost;
  #pool: ChildPool | undefined;
  #algo: CheaperAlgo | undefined;
  /** Slots retired whose child has not exited yet: not counted, not reused until gone. */
  readonly #retiring = new Set<number>();
  #tcpFds: number[] = [];
  #stopping = false;

  start(host: MasterHost): void {
    this.#host = host;
    const { options } = host;
    if (options.cheaper === 0) return;
    this.#pool = host.subsystem<Subsystem>('workers')?.children;
    this.#algo = ALGOS[options['cheaper-algo']](options);
    this.#tcpFds = host.sockets.filter((socket) => socket.address.kind === 'tcp').map((socket) => socket.fd);
    log(`cheaper: ${options['cheaper-algo']} algorithm, ${startingWorkers(options)} worker(s) to start, ${options.cheaper} to ${options.processes}, step ${options['cheaper-step']}, overload ${options['cheaper-overload']}`);
  }

  cycle(now: number): number | void {
    const pool = this.#pool;
    const algo = this.#algo;
    if (pool === undefined || algo === undefined || this.#stopping || pool.chaining) return;
    const view = this.#view(pool, now);
    const decision = algo.decide(view);
    if (decision !== undefined) this.#act(pool, algo, view, decision);
    return algo.nextDue?.(now);
  }

  #view(pool: ChildPool, now: number): CheaperView {
    const ids = new Set(pool.slotIds());
    for (const slot of this.#retiring) if (!ids.has(slot)) this.#retiring.delete(slot);
    const board = this.#host.shared.scoreboard;
    const ready = new Set(pool.readyChildren().map((child) => child.slot));
    const workers: WorkerSample[] = [];
    for (const slot of [...ids].sort((a, b) => a - b)) {
      if (this.#retiring.has(slot)) continue;
      const stats = board.read(slot);
      workers.push({ slot, ready: ready.has(slot), busy: stats.status === 'busy', requests: stats.requests, runningTime: stats.running_time });
    }
    const options = this.#host.options;
    return { now, workers, min: options.cheaper, max: options.processes, backlog: () => this.#backlog() };
  }

  /** Connections waiting in the TCP listen queues, or undefined with none (unix sockets do not say). */
  #backlog(): number | undefined {
    if (this.#tcpFds.length === 0) return undefined;
    let waiting = 0;
    for (const fd of this.#tcpFds) waiting += Math.max(0, native.listenQueue(fd));
    return waiting;
  }

  #act(pool: ChildPool, algo: CheaperAlgo, view: CheaperView, decision: Decision): void {
    const { workers, max, min, now } = view;
    if ('spawn' in decision) {
      const free = this.#freeSlots(pool).slice(0, Math.min(decision.spawn, max - workers.length));
      if (free.length === 0) return;
      log(`cheaper: ${decision.reason}: spawning ${free.length} more (${workers.length + free.length}/${max})`);
      for (const slot of free) pool.addSlot(slot);
      algo.spawned?.(free.length, now);
      return;
    }
    if (workers.length <= min) return;
    const slot = decision.slot ?? this.#idlest(workers);
    this.#retiring.add(slot);
    log(`cheaper: ${decision.reason}: retiring worker ${slot} (${workers.length - 1}/${max})`);
    pool.removeSlot(slot);
    algo.retired?.(now);
  }

  /** Slot numbers no child holds, lowest first, so the running workers stay 1…N in the stats. */
  #freeSlots(pool: ChildPool): number[] {
    const taken = new Set(pool.slotIds());
    const free: number[] = [];
    for (let slot = 1; slot <= this.#host.options.processes; slot++) if (!taken.has(slot)) free.push(slot);
    return free;
  }

  /** The highest-numbered idle worker, else the highest-numbered one: it finishes its requests first. */
  #idlest(workers: readonly WorkerSample[]): number {
    const reversed = [...workers].reverse();
    return (reversed.find((worker) => worker.ready && !worker.busy) ?? reversed[0]!).slot;
  }

  /** A retired worker's child exited: the stats show its slot as `cheap` (pid 0), as uWSGI's do. */
  childExited(pid: number): void {
    const board = this.#host.shared.scoreboard;
    for (const slot of this.#retiring) if (board.pid(slot) === pid) board.cheaped(slot);
  }

  stopGracefully(): void {
    this.#stopping = true;
  }

  stopBrutally(): void {
    this.#stopping = true;
  }

  stats(): StatsRows {
    const options = this.#host.options;
    if (this.#pool === undefined) return {};
    const running = this.#pool.slotIds().filter((slot) => !this.#retiring.has(slot)).length;
    return { cheaper: { algo: options['cheaper-algo'], workers: running, min: options.cheaper, max: options.processes, ...this.#algo?.stats?.() } };
  }
}
