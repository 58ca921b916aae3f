/**
 * The scoreboard: one slot of counters per worker id in the shared region, as uWSGI's
 * `uwsgi.workers[]`. Each worker is the only writer of its own slot's request counters (plain
 * stores of aligned f64s, no lock on the hot path); the master writes the spawn fields and
 * memory figures. Anyone reads any slot: `uwsgi.workers()`, `total_requests()`, the stats server.
 */
import type { Area } from './region.js';

/** Exported for the thread board (runtime/threads/board.ts), which sums its threads' slots into a worker's. */
export const enum Field {
  Pid, Requests, DeltaRequests, Exceptions, BusyCores, Rss, Vsz, RunningTime, LastSpawn, RespawnCount,
  Tx, AvgRt, Signals, Accepting,
  /** Harakiri: when the worker's event loop last ran its 1 s timer (ms epoch), and how many harakiris the slot had. */
  Heartbeat, HarakiriCount,
  /** The request-duration histogram (metrics): one count per bucket of {@link DURATION_BUCKETS}, then the overflow. */
  DurationBuckets,
  Count = DurationBuckets + 10,
}

/**
 * Upper bounds (seconds) of the request-duration histogram's buckets, as Prometheus' `le`.
 * Each bucket counts only its own requests (one increment per request); readers add them up.
 */
export const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10] as const;

/** The bucket of a request of `micros`: compares against the bounds in µs, so no division per request. */
function durationBucket(micros: number): number {
  let bucket = 0;
  while (bucket < BUCKET_MICROS.length && micros > BUCKET_MICROS[bucket]!) bucket++;
  return bucket;
}
const BUCKET_MICROS = DURATION_BUCKETS.map((seconds) => seconds * 1e6);

/** The fields of slot `id` of a board laid out as this one (the scoreboard, or the thread board). */
export function slotFields(area: Area, id: number): Float64Array {
  return new Float64Array(area.buffer, area.byteOffset + (id - 1) * SLOT_BYTES, Field.Count);
}

/** Bytes per worker slot (a cache line or two; room to grow without a version bump). */
export const SLOT_BYTES = 256;

export function scoreboardSize(workers: number): number {
  return workers * SLOT_BYTES;
}

/** `cheap`: no process holds the slot (retired by --cheaper, or not spawned yet), as uWSGI reports it. */
export type WorkerStatus = 'idle' | 'busy' | 'cheap';

/** One worker as `uwsgi.workers()` and the stats server report it (uWSGI's key names). */
export interface WorkerStats {
  id: number;
  pid: number;
  accepting: number;
  requests: number;
  delta_requests: number;
  exceptions: number;
  signals: number;
  status: WorkerStatus;
  rss: number;
  vsz: number;
  running_time: number;
  last_spawn: number;
  respawn_count: number;
  tx: number;
  avg_rt: number;
  harakiri_count: number;
}

/** A worker's own slot: what its cores update after every request. */
export class WorkerSlot {
  readonly #f: Float64Array;

  constructor(area: Area, readonly id: number) {
    this.#f = new Float64Array(area.buffer, area.byteOffset + (id - 1) * SLOT_BYTES, Field.Count);
  }

  /** A request ended: `micros` of wall time, `bytes` sent. uWSGI's avg_rt is (avg + last) / 2. */
  countRequest(micros: number, bytes: number): void {
    const f = this.#f;
    f[Field.Requests]!++;
    f[Field.DeltaRequests]!++;
    f[Field.RunningTime]! += micros;
    f[Field.Tx]! += bytes;
    f[Field.AvgRt] = f[Field.AvgRt] === 0 ? micros : (f[Field.AvgRt]! + micros) / 2;
    f[Field.DurationBuckets + durationBucket(micros)]!++;
  }

  countException(): void {
    this.#f[Field.Exceptions]!++;
  }

  countSignal(): void {
    this.#f[Field.Signals]!++;
  }

  setBusyCores(busy: number): void {
    this.#f[Field.BusyCores] = busy;
  }

  setAccepting(accepting: boolean): void {
    this.#f[Field.Accepting] = accepting ? 1 : 0;
  }

  /** The event loop is alive (the harakiri timer, once a second): the master watches it stop. */
  beat(now: number): void {
    this.#f[Field.Heartbeat] = now;
  }

  /** One of this worker's requests was halted by harakiri. */
  countHarakiri(): void {
    this.#f[Field.HarakiriCount]!++;
  }

  get requests(): number {
    return this.#f[Field.Requests]!;
  }
}

/** The whole board, for readers and for the master's bookkeeping. */
export class Scoreboard {
  readonly #area: Area;

  constructor(area: Area, readonly workers: number) {
    this.#area = area;
  }

  #fields(id: number): Float64Array {
    return new Float64Array(this.#area.buffer, this.#area.byteOffset + (id - 1) * SLOT_BYTES, Field.Count);
  }

  slot(id: number): WorkerSlot {
    return new WorkerSlot(this.#area, id);
  }

  /** Master: a new process took slot `id` (requests stay: they count for the slot's lifetime). */
  spawned(id: number, pid: number): void {
    const f = this.#fields(id);
    f[Field.RespawnCount] = f[Field.LastSpawn] === 0 ? 0 : f[Field.RespawnCount]! + 1;
    f[Field.Pid] = pid;
    f[Field.DeltaRequests] = 0;
    f[Field.BusyCores] = 0;
    f[Field.Accepting] = 0;
    f[Field.Heartbeat] = 0;
    f[Field.LastSpawn] = Math.floor(Date.now() / 1000);
  }

  /** Master: the slot's process was retired by --cheaper and none replaces it (yet). */
  cheaped(id: number): void {
    const f = this.#fields(id);
    f[Field.Pid] = 0;
    f[Field.BusyCores] = 0;
    f[Field.Accepting] = 0;
  }

  /** Master: memory figures, refreshed once per master cycle. */
  setMemory(id: number, rss: number, vsz: number): void {
    const f = this.#fields(id);
    f[Field.Rss] = rss;
    f[Field.Vsz] = vsz;
  }

  /** When worker `id`'s event loop last beat (ms epoch; 0: not since its spawn). */
  heartbeat(id: number): number {
    return this.#fields(id)[Field.Heartbeat]!;
  }

  /**
   * Master: it killed worker `id` for harakiri. The worker counts its own halted requests in the
   * same field; the two never write at once, since the master only kills a worker whose loop is stuck.
   */
  countHarakiri(id: number): void {
    this.#fields(id)[Field.HarakiriCount]!++;
  }

  pid(id: number): number {
    return this.#fields(id)[Field.Pid]!;
  }

  totalRequests(): number {
    let total = 0;
    for (let id = 1; id <= this.workers; id++) total += this.#fields(id)[Field.Requests]!;
    return total;
  }

  read(id: number): WorkerStats {
    const f = this.#fields(id);
    return {
      id,
      pid: f[Field.Pid]!,
      accepting: f[Field.Accepting]!,
      requests: f[Field.Requests]!,
      delta_requests: f[Field.DeltaRequests]!,
      exceptions: f[Field.Exceptions]!,
      signals: f[Field.Signals]!,
      status: f[Field.Pid] === 0 ? 'cheap' : f[Field.BusyCores]! > 0 ? 'busy' : 'idle',
      rss: f[Field.Rss]!,
      vsz: f[Field.Vsz]!,
      running_time: f[Field.RunningTime]!,
      last_spawn: f[Field.LastSpawn]!,
      respawn_count: f[Field.RespawnCount]!,
      tx: f[Field.Tx]!,
      avg_rt: Math.round(f[Field.AvgRt]!),
      harakiri_count: f[Field.HarakiriCount]!,
    };
  }

  /** Worker `id`'s cores serving a request now. */
  busyCores(id: number): number {
    return this.#fields(id)[Field.BusyCores]!;
  }

  /**
   * Worker `id`'s request-duration histogram: per bucket of {@link DURATION_BUCKETS} plus the
   * overflow, the requests of that bucket alone (not cumulative), and the sum of their seconds.
   */
  durations(id: number): { buckets: number[]; seconds: number } {
    const f = this.#fields(id);
    return { buckets: Array.from(f.subarray(Field.DurationBuckets, Field.Count)), seconds: f[Field.RunningTime]! / 1e6 };
  }

  readAll(): WorkerStats[] {
    return Array.from({ length: this.workers }, (_, i) => this.read(i + 1));
  }
}
