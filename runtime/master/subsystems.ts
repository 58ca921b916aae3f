/**
 * The subsystems an instance runs, in start order. A new kind of child or duty is a file
 * implementing {@link Subsystem} plus its registration here and its place in a list.
 *
 * A room the options do not ask for (`when`) is not even imported: its modules would cost every
 * master and single process memory for nothing (the routers, the Emperor, the cluster, the
 * metrics and the daemons together are ~1.3 MiB of heap). Its part of the stats is empty then,
 * as it would be if the room were loaded and idle.
 */
import { EMPEROR_FD_ENV } from '../emperor/protocol.js';
import type { Options } from '../options.js';
import type { Subsystem } from './subsystem.js';

interface Registration {
  /** Imports the room and makes its subsystem. */
  load(): Promise<Subsystem>;
  /** Whether the instance needs it at all (absent: always). */
  when?(options: Options): boolean;
}

const SYSTEMD: Registration = { load: async () => new (await import('../systemd/subsystem.js')).Systemd(), when: () => Boolean(process.env.NOTIFY_SOCKET) };
const JAIL: Registration = { load: async () => new (await import('../jail/subsystem.js')).Jail() };
const MASTER_FIFO: Registration = { load: async () => new (await import('./fifo.js')).MasterFifo(), when: (o) => o['master-fifo'].length > 0 };
const HARAKIRI: Registration = { load: async () => new (await import('./harakiri.js')).Harakiri() };
const WORKERS: Registration = { load: async () => new (await import('./workers.js')).Workers() };
const IN_PROCESS_WORKER: Registration = { load: async () => new (await import('./single.js')).InProcessWorker() };
const RECYCLING: Registration = { load: async () => new (await import('./recycling.js')).Recycling() };
const CHEAPER: Registration = { load: async () => new (await import('./cheaper.js')).Cheaper() };
const SPOOLERS: Registration = { load: async () => new (await import('../spooler/pool.js')).Spoolers() };
const DAEMONS: Registration = { load: async () => new (await import('../daemons/subsystem.js')).Daemons(), when: (o) => o['attach-daemon'].length + o['attach-daemon2'].length + o['smart-attach-daemon'].length + o['smart-attach-daemon2'].length > 0 };
const FASTROUTER: Registration = { load: async () => new (await import('../routers/fastrouter/subsystem.js')).FastRouterGateway(), when: (o) => o.fastrouter.length > 0 };
const HTTP_ROUTER: Registration = { load: async () => new (await import('../routers/http/subsystem.js')).HttpRouter(), when: (o) => o.http.length > 0 };
const SUBSCRIBER: Registration = { load: async () => new (await import('../routers/subscription/client.js')).Subscriber(), when: (o) => o['subscribe-to'].length + o.subscribe2.length > 0 };
const SIGNALS: Registration = { load: async () => new (await import('../signals/subsystem.js')).Signals() };
const STATS: Registration = { load: async () => new (await import('../stats/subsystem.js')).Stats() };
const CLUSTER: Registration = { load: async () => new (await import('../cluster/subsystem.js')).Cluster(), when: (o) => o.cluster !== undefined || o['cluster-nodes'] !== undefined };
const METRICS: Registration = { load: async () => new (await import('../metrics/subsystem.js')).Metrics(), when: (o) => o.metrics !== undefined };
const HOUSEKEEPING: Registration = { load: async () => new (await import('./housekeeping.js')).Housekeeping() };
const TOUCH: Registration = { load: async () => new (await import('./touch.js')).Touch() };
const LOGGING: Registration = { load: async () => new (await import('../logging/subsystem.js')).Logging() };
const EMPEROR_PIPE: Registration = { load: async () => new (await import('../emperor/vassal-side.js')).EmperorPipe(), when: () => process.env[EMPEROR_FD_ENV] !== undefined };
const EMPEROR: Registration = { load: async () => new (await import('../emperor/subsystem.js')).Emperor() };

/** Under a master: every child is a supervised process. */
const MASTER: readonly Registration[] = [
  SYSTEMD, // before the jail: it connects to NOTIFY_SOCKET while the path is still reachable
  JAIL, // before anything is spawned or created after the sockets
  MASTER_FIFO, // before the children: a FIFO that cannot be made fails the boot before any child is spawned
  HARAKIRI,
  WORKERS,
  RECYCLING,
  CHEAPER,
  SPOOLERS,
  DAEMONS,
  FASTROUTER,
  HTTP_ROUTER,
  SUBSCRIBER,
  SIGNALS,
  STATS,
  CLUSTER,
  METRICS,
  HOUSEKEEPING,
  TOUCH,
  LOGGING,
  EMPEROR_PIPE, // last: it reads the others (workers ready, requests served)
];

/** A single process (no `--master`): the worker runs in-process, the rest is the same. */
const SINGLE: readonly Registration[] = [SYSTEMD, JAIL /* before the app loads in-process */, IN_PROCESS_WORKER, SIGNALS, SUBSCRIBER, STATS, CLUSTER, METRICS, HOUSEKEEPING, LOGGING, EMPEROR_PIPE];

/** `--emperor`: a master of masters, its children are vassals (whole instances), not workers. */
const EMPEROR_ONLY: readonly Registration[] = [EMPEROR];

async function load(registrations: readonly Registration[], options: Options): Promise<Subsystem[]> {
  return Promise.all(registrations.filter((registration) => registration.when?.(options) ?? true).map((registration) => registration.load()));
}

export const masterSubsystems = (options: Options): Promise<Subsystem[]> => load(MASTER, options);
export const singleProcessSubsystems = (options: Options): Promise<Subsystem[]> => load(SINGLE, options);
export const emperorSubsystems = (options: Options): Promise<Subsystem[]> => load(EMPEROR_ONLY, options);
