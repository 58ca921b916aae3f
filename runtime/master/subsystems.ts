/**
 * The subsystems an instance runs, in start order. A new kind of child or duty is a file
 * implementing {@link Subsystem} plus one line here.
 */
import { Daemons } from '../daemons/subsystem.js';
import { Signals } from '../signals/subsystem.js';
import { Spoolers } from '../spooler/pool.js';
import { Stats } from '../stats/subsystem.js';
import { Harakiri } from './harakiri.js';
import { MasterFifo } from './fifo.js';
import { Cheaper } from './cheaper.js';
import { Housekeeping } from './housekeeping.js';
import { Logging } from '../logging/subsystem.js';
import { Recycling } from './recycling.js';
import { InProcessWorker } from './single.js';
import type { Subsystem } from './subsystem.js';
import { Touch } from './touch.js';
import { Workers } from './workers.js';

/** Under a master: every child is a supervised process. */
export function masterSubsystems(): Subsystem[] {
  return [
    new MasterFifo(), // first: a FIFO that cannot be made fails the boot before any child is spawned
    new Harakiri(),
    new Workers(),
    new Recycling(),
    new Cheaper(),
    new Spoolers(),
    new Daemons(),
    new Signals(),
    new Stats(),
    new Housekeeping(),
    new Touch(),
    new Logging(),
  ];
}

/** A single process (no `--master`): the worker runs in-process, the rest is the same. */
export function singleProcessSubsystems(): Subsystem[] {
  return [
    new InProcessWorker(),
    new Signals(),
    new Stats(),
    new Housekeeping(),
    new Logging(),
  ];
}
