/**
 * One slot per spooler process in the shared region, as uWSGI's list of spoolers in its stats:
 * the master writes a slot's pid and respawns, the spooler process its task counters. During a
 * reload the old and the new process of one slot run side by side, so the task count is an
 * atomic add and `running` is stored whole, never counted up and down.
 */
import type { Area } from './region.js';

const enum Field {
  Pid, Respawns, Tasks, Running,
  /** --spooler-harakiri: when the oldest running task started (unix seconds, 0: none), and the slot's harakiris. */
  OldestTask, HarakiriCount,
  Count,
}

const SLOT_BYTES = 64;

export function spoolerBoardSize(spoolers: number): number {
  return spoolers * SLOT_BYTES;
}

/** One spooler process as the stats server reports it (uWSGI's key names). */
export interface SpoolerStats {
  dir: string;
  pid: number;
  /** Tasks run to an answer (any answer, or a throw) by this slot's processes. */
  tasks: number;
  respawns: number;
  /** Tasks running now (up to --spooler-async). */
  running: number;
  harakiri_count: number;
}

function fields(area: Area, id: number): Int32Array {
  return new Int32Array(area.buffer, area.byteOffset + (id - 1) * SLOT_BYTES, Field.Count);
}

/** A spooler process's own slot. */
export class SpoolerSlot {
  readonly #f: Int32Array;

  constructor(area: Area, id: number) {
    this.#f = fields(area, id);
  }

  /** A task got its answer (any answer, or a throw). */
  countTask(): void {
    Atomics.add(this.#f, Field.Tasks, 1);
  }

  setRunning(tasks: number): void {
    Atomics.store(this.#f, Field.Running, tasks);
  }

  /** The start of the oldest task running now (unix seconds, 0: none): the master's harakiri reads it. */
  setOldestTask(since: number): void {
    Atomics.store(this.#f, Field.OldestTask, since);
  }
}

/** Spooler ids run 1… through the directories in turn, `perDir` each (spooler/pool.ts). */
export class SpoolerBoard {
  constructor(readonly area: Area, readonly dirs: readonly string[], readonly perDir: number) {}

  slot(id: number): SpoolerSlot {
    return new SpoolerSlot(this.area, id);
  }

  /** Master: a new process took slot `id`; what its predecessor ran stays counted. */
  spawned(id: number, pid: number): void {
    const f = fields(this.area, id);
    if (Atomics.load(f, Field.Pid) !== 0) Atomics.add(f, Field.Respawns, 1);
    Atomics.store(f, Field.Pid, pid);
    Atomics.store(f, Field.Running, 0);
    Atomics.store(f, Field.OldestTask, 0);
  }

  pid(id: number): number {
    return Atomics.load(fields(this.area, id), Field.Pid) >>> 0;
  }

  /** When spooler `id`'s oldest running task started (unix seconds, 0: none). */
  oldestTask(id: number): number {
    return Atomics.load(fields(this.area, id), Field.OldestTask) >>> 0;
  }

  /** Master: it killed spooler `id` for --spooler-harakiri. */
  countHarakiri(id: number): void {
    Atomics.add(fields(this.area, id), Field.HarakiriCount, 1);
  }

  /** How many spooler slots there are (ids 1…). */
  get size(): number {
    return this.dirs.length * this.perDir;
  }

  readAll(): SpoolerStats[] {
    return Array.from({ length: this.dirs.length * this.perDir }, (_, i) => {
      const f = fields(this.area, i + 1);
      const read = (field: Field) => Atomics.load(f, field) >>> 0;
      return { dir: this.dirs[Math.floor(i / this.perDir)]!, pid: read(Field.Pid), tasks: read(Field.Tasks), respawns: read(Field.Respawns), running: read(Field.Running), harakiri_count: read(Field.HarakiriCount) };
    });
  }
}
