/**
 * `--spooler-harakiri SECS`: the spooler's side. It publishes when its oldest running task
 * started in its spooler board slot; the master's harakiri (master/harakiri.ts) compares it
 * each cycle and kills a spooler whose task runs too long, logging and counting it as it does
 * for workers. The master respawns it and the task, still queued, runs again.
 *
 * Shared memory rather than a timer or a watchdog thread here: a task may never give the event
 * loop back (a plain handler stuck in a loop), and the value stays in the board while it spins.
 */
import type { SpoolerSlot } from '../shared/spooler-board.js';

export class SpoolerHarakiri {
  /** Each task core's start (unix seconds, 0 when idle). */
  readonly #starts: Float64Array;

  constructor(cores: number, private readonly slot: SpoolerSlot | null) {
    this.#starts = new Float64Array(cores);
  }

  started(core: number): void {
    const now = Math.floor(Date.now() / 1000);
    this.#starts[core] = now;
    this.#publish();
  }

  finished(core: number): void {
    this.#starts[core] = 0;
    this.#publish();
  }

  /** Per task, not per request: a scan of --spooler-async starts is cheap beside a task. */
  #publish(): void {
    let oldest = 0;
    for (const since of this.#starts) if (since !== 0 && (oldest === 0 || since < oldest)) oldest = since;
    this.slot?.setOldestTask(oldest);
  }
}
