/**
 * The subsystems an instance runs, in start order. A new kind of child or duty is a file
 * implementing {@link Subsystem} plus one line here.
 */
import { Cluster } from '../cluster/subsystem.js';
import { Daemons } from '../daemons/subsystem.js';
import { Emperor } from '../emperor/subsystem.js';
import { EmperorPipe } from '../emperor/vassal-side.js';
import { Metrics } from '../metrics/subsystem.js';
import { Signals } from '../signals/subsystem.js';
import { Spoolers } from '../spooler/pool.js';
import { Stats } from '../stats/subsystem.js';
import { Jail } from '../jail/subsystem.js';
import { Systemd } from '../systemd/subsystem.js';
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
import { FastRouterGateway } from '../routers/fastrouter/subsystem.js';
import { Subscriber } from '../routers/subscription/client.js';
import { HttpRouter } from '../routers/http/subsystem.js';

/** Under a master: every child is a supervised process. */
export function masterSubsystems(): Subsystem[] {
  return [
    new Systemd(), // before the jail: it connects to NOTIFY_SOCKET while the path is still reachable
    new Jail(), // before anything is spawned or created after the sockets
    new MasterFifo(), // before the children: a FIFO that cannot be made fails the boot before any child is spawned
    new Harakiri(),
    new Workers(),
    new Recycling(),
    new Cheaper(),
    new Spoolers(),
    new Daemons(),
    new FastRouterGateway(),
    new HttpRouter(),
    new Subscriber(),
    new Signals(),
    new Stats(),
    new Cluster(),
    new Metrics(),
    new Housekeeping(),
    new Touch(),
    new Logging(),
    new EmperorPipe(), // last: it reads the others (workers ready, requests served)
  ];
}

/** A single process (no `--master`): the worker runs in-process, the rest is the same. */
export function singleProcessSubsystems(): Subsystem[] {
  return [
    new Systemd(),
    new Jail(), // before the app loads in-process
    new InProcessWorker(),
    new Signals(),
    new Subscriber(),
    new Stats(),
    new Cluster(),
    new Metrics(),
    new Housekeeping(),
    new Logging(),
    new EmperorPipe(),
  ];
}

/** `--emperor`: a master of masters, its children are vassals (whole instances), not workers. */
export function emperorSubsystems(): Subsystem[] {
  return [new Emperor()];
}
