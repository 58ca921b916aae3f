/**
 * What the master runs: a list of subsystems, each a part of the instance with a lifecycle
 * (workers, spoolers, the signal hub, the stats server, housekeeping; later daemons, gateways,
 * vassals). The master's loop calls the same methods on each of them, so a new part of the
 * instance is a new file implementing this contract plus its registration in `subsystems.ts`.
 */
import type { ChildProcess } from 'node:child_process';
import type { Channel, ChildActs, Handlers, MasterActs } from '../ipc.js';
import type { Options } from '../options.js';
import type { SharedState } from '../shared/state.js';
import type { BoundSocket } from './listeners.js';
import type { ChildPool } from './child-pool.js';

/** What the master offers its subsystems. */
export interface MasterHost {
  readonly options: Options;
  readonly sockets: readonly BoundSocket[];
  readonly shared: SharedState;
  /** Everything the instance runs, in start order. */
  readonly subsystems: readonly Subsystem[];
  /** False in a single process (no master: the worker runs in-process). */
  readonly supervised: boolean;
  /** Runs the loop's next pass now (something changed that the loop should act on). */
  wake(): void;
  /** Stops the whole instance gracefully (a subsystem found it cannot go on), exiting `code`; `brutal`: kill everything now. */
  shutdown(reason: string, code: number, brutal?: boolean): void;
  /**
   * Reloads as SIGHUP does (`graceful`, the default) or as the master FIFO and the touch files
   * ask: a full reload (`graceful`, `brutal`) re-reads the config files first, as uWSGI's
   * re-exec does; the others keep the options and reload the workers only.
   */
  reload(kind?: ReloadKind): void;
  /** Finds another subsystem by name (the signal hub asks for the workers and spoolers). */
  subsystem<T extends Subsystem>(name: string): T | undefined;
  /** Starts a worker (it inherits the sockets) or a spooler process, with its IPC channel. */
  spawnChild(role: { workerId: number; spooler?: string }): { process: ChildProcess; channel: ChildChannel };
  /** For an in-process worker: a channel whose messages reach the same handlers a child's do. */
  localChannel(): Channel<MasterActs, ChildActs>;
}

/**
 * How to reload: `graceful` (SIGHUP, FIFO `r`, --touch-reload: a new generation for every slot,
 * each old child serving until its successor is ready), `brutal` (FIFO `R`: kill, respawn),
 * `chain` (FIFO `c`, --touch-chain-reload: one worker at a time), `workers` / `workers-brutal`
 * (FIFO `w` / `W`: the workers only, the config not re-read).
 */
export type ReloadKind = 'graceful' | 'brutal' | 'chain' | 'workers' | 'workers-brutal';

/** The master's channel to one child: posts, replies, and the child's pid. */
export type ChildChannel = Channel<ChildActs, MasterActs, ChildPeer>;

/** A child as a message handler sees it. */
export interface ChildPeer {
  pid: number;
  channel: ChildChannel;
}

/** One row of the stats document a subsystem contributes (`--stats`, later the metrics endpoint). */
export type StatsRows = Record<string, unknown>;

export interface Subsystem {
  readonly name: string;
  /** The children it supervises, if any: the loop reaps, murders and respawns them. */
  readonly children?: ChildPool;
  /** The IPC acts it handles from children. */
  readonly handlers?: Handlers<ChildActs, ChildPeer>;
  /** After the sockets are bound and the shared state exists. */
  start?(host: MasterHost): void | Promise<void>;
  /** Once per pass of the loop; returns when it next wants a pass (ms since the epoch), if sooner than a second. */
  cycle?(now: number): number | void;
  /** SIGHUP (or the FIFO, a touched file): reload its children the way `kind` says. */
  reload?(kind: ReloadKind): void;
  /** SIGTERM/SIGINT: finish what is running, then stop. */
  stopGracefully?(): void;
  /** The stop signal again, or the mercy ran out: stop now. */
  stopBrutally?(): void;
  /** True while it has work or children to finish before the master may exit. */
  busy?(): boolean;
  /** What it is still waiting for, for the shutdown log ("1 spooler (pid 42) running a task"). */
  waitingFor?(): string | undefined;
  /** Any child of the instance exited (its locks and signal handlers go with it). */
  childExited?(pid: number): void;
  /** Its part of the stats document. */
  stats?(): StatsRows;
  /** The master is about to exit: close what it opened. */
  close?(): void;
}
