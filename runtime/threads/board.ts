/**
 * The thread board: one scoreboard slot per worker thread, in its own area of the shared region,
 * laid out as the worker scoreboard so a thread's cores write it with the same WorkerSlot.
 *
 * Why a slot per thread and not the worker's: a slot's counters are plain f64 stores with a
 * single writer (scoreboard.ts); threads of one process writing one slot would lose updates.
 * So each thread owns its slot, and the process's supervisor ({@link ThreadBoard.sumInto}, a
 * few times a second) adds what its threads counted into the worker's slot, which is what
 * `uwsgi.workers()`, `total_requests()`, the stats server and the master read, as uWSGI's
 * master re-sums per-core counters every cycle.
 *
 * Why two slots per thread: a recycled thread (--max-requests) finishes its last requests while
 * its replacement already serves, and the two must not share a writer; generations alternate.
 */
import type { Area } from '../shared/region.js';
import { Field, Scoreboard, slotFields, SLOT_BYTES, WorkerSlot, type WorkerStats } from '../shared/scoreboard.js';

const GENERATIONS = 2;
/** Counters a thread only adds to: the worker's grow by what the thread's grew since the last sum. */
const SUMMED: readonly Field[] = [
  Field.Requests, Field.DeltaRequests, Field.Exceptions, Field.RunningTime, Field.Tx, Field.Signals, Field.HarakiriCount,
  // the request-duration histogram (metrics): each bucket only grows
  ...Array.from({ length: Field.Count - Field.DurationBuckets }, (_, i) => Field.DurationBuckets + i),
];

export function threadBoardSize(workers: number, threads: number): number {
  return threads <= 1 ? 0 : workers * threads * GENERATIONS * SLOT_BYTES;
}

/** One thread as `workers()[i].threads` and the stats server's cores show it. */
export interface ThreadStats {
  id: number;
  requests: number;
  delta_requests: number;
  exceptions: number;
  harakiri_count: number;
  respawn_count: number;
  status: WorkerStats['status'];
  /** Cores of this thread running a request now. */
  busy_cores: number;
  avg_rt: number;
  tx: number;
}

export class ThreadBoard {
  readonly #board: Scoreboard;

  constructor(readonly area: Area, readonly threads: number) {
    this.#board = new Scoreboard(area, area.byteLength / SLOT_BYTES);
  }

  /** The board slot (1-based) of thread `thread` (0-based) of worker `workerId`, generation `generation`. */
  index(workerId: number, thread: number, generation: number): number {
    return ((workerId - 1) * this.threads + thread) * GENERATIONS + (generation % GENERATIONS) + 1;
  }

  slot(index: number): WorkerSlot {
    return new WorkerSlot(this.area, index);
  }

  /** A thread starts in `index`: its delta and busy counts restart, its spawn is counted. */
  spawned(index: number): void {
    this.#board.spawned(index, process.pid);
  }

  /** The thread in `index` is gone and nothing replaced it in that generation. */
  gone(index: number): void {
    this.#board.cheaped(index);
  }

  heartbeat(index: number): number {
    return this.#board.heartbeat(index);
  }

  /** Counts a harakiri on the thread's slot (its loop is stuck: nothing else writes it). */
  countHarakiri(index: number): void {
    this.#board.countHarakiri(index);
  }

  /**
   * Adds the threads' counters since the last call into worker slot `into`; `seen` holds the
   * values of the last call per board slot (the caller keeps it, starting from {@link snapshot}).
   */
  sumInto(into: Float64Array, workerId: number, seen: Map<number, Float64Array>): void {
    let busy = 0;
    let avg = 0;
    let timed = 0;
    for (let thread = 0; thread < this.threads; thread++) {
      for (let generation = 0; generation < GENERATIONS; generation++) {
        const index = this.index(workerId, thread, generation);
        const fields = slotFields(this.area, index);
        const last = seen.get(index) ?? this.#remember(seen, index, fields);
        for (const field of SUMMED) {
          // A counter only shrinks when a new thread restarted it (delta_requests): all of it is new.
          const now = fields[field]!;
          into[field]! += now >= last[field]! ? now - last[field]! : now;
          last[field] = now;
        }
        if (fields[Field.Pid] !== 0) busy += fields[Field.BusyCores]!;
        if (fields[Field.AvgRt]! > 0) {
          avg += fields[Field.AvgRt]!;
          timed++;
        }
      }
    }
    into[Field.BusyCores] = busy;
    if (timed > 0) into[Field.AvgRt] = avg / timed;
  }

  /** Marks what the board holds now as counted (a new supervisor must not add a predecessor's counts again). */
  snapshot(workerId: number): Map<number, Float64Array> {
    const seen = new Map<number, Float64Array>();
    for (let thread = 0; thread < this.threads; thread++) {
      for (let generation = 0; generation < GENERATIONS; generation++) {
        const index = this.index(workerId, thread, generation);
        this.#remember(seen, index, slotFields(this.area, index));
      }
    }
    return seen;
  }

  #remember(seen: Map<number, Float64Array>, index: number, fields: Float64Array): Float64Array {
    const copy = Float64Array.from(fields);
    seen.set(index, copy);
    return copy;
  }

  /** Worker `workerId`'s threads, both generations of each folded into one row. */
  read(workerId: number): ThreadStats[] {
    return Array.from({ length: this.threads }, (_, thread) => {
      const [a, b] = [0, 1].map((generation) => this.#board.read(this.index(workerId, thread, generation))) as [WorkerStats, WorkerStats];
      const live = a.pid !== 0 && (b.pid === 0 || a.last_spawn >= b.last_spawn) ? a : b.pid !== 0 ? b : a;
      const busy = slotFields(this.area, this.index(workerId, thread, 0))[Field.BusyCores]! * (a.pid !== 0 ? 1 : 0)
        + slotFields(this.area, this.index(workerId, thread, 1))[Field.BusyCores]! * (b.pid !== 0 ? 1 : 0);
      return {
        id: thread,
        requests: a.requests + b.requests,
        delta_requests: live.delta_requests,
        exceptions: a.exceptions + b.exceptions,
        harakiri_count: a.harakiri_count + b.harakiri_count,
        respawn_count: Math.max(0, (a.last_spawn > 0 ? a.respawn_count + 1 : 0) + (b.last_spawn > 0 ? b.respawn_count + 1 : 0) - 1),
        status: a.pid === 0 && b.pid === 0 ? 'cheap' : busy > 0 ? 'busy' : 'idle',
        busy_cores: busy,
        avg_rt: live.avg_rt,
        tx: a.tx + b.tx,
      };
    });
  }
}
