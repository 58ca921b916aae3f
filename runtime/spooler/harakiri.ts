/**
 * `--spooler-harakiri SECS`: a task running longer gets its spooler process killed; the master
 * respawns it and the task, still queued, runs again (uWSGI's spooler harakiri).
 *
 * The watchdog is a thread, not a timer: a task may never give the event loop back (a plain
 * handler stuck in a loop), and a SIGKILL sent from another thread still takes the whole process.
 * Each task core's start time (unix seconds, 0 when idle) sits in shared memory.
 */
import { Worker } from 'node:worker_threads';

const WATCHDOG = `
const { workerData: { starts, limit, pid, prefix } } = require('node:worker_threads');
const { writeSync } = require('node:fs');
setInterval(() => {
  const now = Math.floor(Date.now() / 1000);
  for (let core = 0; core < starts.length; core++) {
    const since = Atomics.load(starts, core);
    if (since === 0 || now - since <= limit) continue;
    writeSync(2, prefix + ' HARAKIRI: a task has run for more than ' + limit + ' s (--spooler-harakiri): killing this spooler; the task stays queued and runs again\\n');
    process.kill(pid, 'SIGKILL');
  }
}, 1000);
`;

export class SpoolerHarakiri {
  readonly #starts: Int32Array;

  constructor(cores: number, limitSeconds: number, logPrefix: string) {
    this.#starts = new Int32Array(new SharedArrayBuffer(cores * 4));
    new Worker(WATCHDOG, { eval: true, workerData: { starts: this.#starts, limit: limitSeconds, pid: process.pid, prefix: logPrefix } }).unref();
  }

  started(core: number): void {
    Atomics.store(this.#starts, core, Math.floor(Date.now() / 1000));
  }

  finished(core: number): void {
    Atomics.store(this.#starts, core, 0);
  }
}
