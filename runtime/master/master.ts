/**
 * The master (uWSGI's `--master`, gunicorn's arbiter): binds the sockets, creates the shared
 * state, starts its subsystems and then runs one loop. Each pass of the loop
 *
 *   1. handles the queued POSIX signals through a name table (the handlers only enqueue),
 *   2. reaps the children that exited, kills the stopping ones past their mercy and respawns
 *      the empty slots whose back-off has passed (every subsystem's {@link ChildPool}),
 *   3. runs every subsystem's cycle,
 *   4. and, once stopping, exits when no subsystem is busy any more;
 *
 * then sleeps until something wakes it (a signal, a child's exit) or a subsystem's next due
 * time, a second at most. A single process (no `--master`) runs the same loop with the worker
 * in-process instead of a pool of worker processes (single.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { reportBootError } from '../boot/boot-error.js';
import { childExecArgv } from '../boot/heap.js';
import { CHILD_ACTS, Channel, FIRST_SOCKET_FD, workerEnvironment, type ChildActs, type Handlers, type MasterActs } from '../ipc.js';
import { flushLog, log, setLogPrefix } from '../logger.js';
import { childLogging } from '../logging/collector.js';
import { reopenLogs } from '../logging/setup.js';
import type { Options } from '../options.js';
import { createSharedState, type SharedState } from '../shared/state.js';
import { bindSockets, closeSockets, type BoundSocket } from './listeners.js';
import { writePidfile } from './pidfile.js';
import { beforeBinding } from '../jail/steps.js';
import { reconfigured, type ReadOptions } from './reconfigure.js';
import type { ChildChannel, ChildPeer, MasterHost, ReloadKind, Subsystem } from './subsystem.js';

const MAIN_SCRIPT = fileURLToPath(new URL('../main.js', import.meta.url));
/** The longest the loop sleeps: housekeeping and the shutdown log need a pass a second. */
const MAX_SLEEP_MS = 1000;
/** How often a shutdown that waits says what it waits for. */
const WAITING_LOG_MS = 5000;

type MasterSignal = 'SIGHUP' | 'SIGTERM' | 'SIGINT' | 'SIGUSR1';

export class Master implements MasterHost {
  sockets: BoundSocket[] = [];
  shared!: SharedState;
  readonly #queuedSignals: MasterSignal[] = [];
  readonly #handlers: Handlers<ChildActs, ChildPeer>;
  #wakeUp: (() => void) | null = null;
  #stopping = false;
  #stoppingSince = 0;
  #lastWaitingLog = 0;
  #exitCode = 0;

  /**
   * `options` is replaced when a reload re-reads the config (reconfigure.ts): children spawned
   * after that get the new options, and subsystems read them through the host.
   * `readOptions` re-reads the command line and its config files (absent: nothing to re-read).
   */
  constructor(public options: Options, readonly subsystems: readonly Subsystem[], readonly supervised = true, private readonly readOptions?: ReadOptions) {
    this.#handlers = Object.assign({ ready: (_: unknown, from: ChildPeer) => this.#childReady(from) }, ...subsystems.map((s) => s.handlers ?? {}));
  }

  /** Starts everything, then runs the loop until the instance stops (the process exits there). */
  async run(): Promise<void> {
    await this.#start();
    for (;;) {
      this.#handleSignals();
      const now = Date.now();
      let next = now + MAX_SLEEP_MS;
      for (const subsystem of this.subsystems) next = sooner(next, subsystem.children?.supervise(now));
      for (const subsystem of this.subsystems) next = sooner(next, subsystem.cycle?.(now));
      if (this.#stopping) {
        if (!this.#busy()) return this.#exit();
        this.#logWaiting(now);
      }
      await this.#sleepUntil(next);
    }
  }

  async #start(): Promise<void> {
    if (this.supervised) {
      setLogPrefix('[master]');
      log(`tsgi master (pid ${process.pid}) starting: ${this.options.processes} worker(s) × ${this.options.async} core(s)`);
    }
    try {
      beforeBinding(this.options);
      this.sockets = await bindSockets(this.options);
      if (this.options.pidfile) writePidfile(this.options.pidfile);
      this.shared = createSharedState(this.options);
      for (const subsystem of this.subsystems) await subsystem.start?.(this);
    } catch (error) {
      reportBootError(error, 'tsgi');
      this.#close();
      flushLog();
      process.exit(1); // 22 (APP_LOAD_ERROR) is for a worker's exit; a command fails with 1
    }
    for (const signal of ['SIGHUP', 'SIGTERM', 'SIGINT', 'SIGUSR1'] as const) process.on(signal, () => this.#enqueue(signal));
  }

  // Signals: the handlers only enqueue; the loop handles them in order.
  #enqueue(signal: MasterSignal): void {
    this.#queuedSignals.push(signal);
    this.wake();
  }

  #handleSignals(): void {
    for (let signal = this.#queuedSignals.shift(); signal; signal = this.#queuedSignals.shift()) this.#signalHandlers[signal]();
  }

  readonly #signalHandlers: Record<MasterSignal, () => void> = {
    SIGHUP: () => this.reload('graceful'), // as uWSGI: SIGHUP stays a full graceful reload
    SIGTERM: () => this.shutdown('SIGTERM', 0),
    SIGINT: () => this.shutdown('SIGINT', 0),
    SIGUSR1: () => reopenLogs('SIGUSR1'), // what logrotate's postrotate sends, as to nginx
  };

  wake(): void {
    const wakeUp = this.#wakeUp;
    this.#wakeUp = null;
    wakeUp?.();
  }

  #sleepUntil(at: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake(), Math.max(0, at - Date.now()));
      this.#wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  subsystem<T extends Subsystem>(name: string): T | undefined {
    return this.subsystems.find((subsystem) => subsystem.name === name) as T | undefined;
  }

  /** Starts a worker or a spooler process: the sockets (workers only) and the shared region follow the IPC fd. */
  spawnChild(role: { workerId: number; spooler?: string }): { process: ChildProcess; channel: ChildChannel } {
    const sockets = role.spooler === undefined ? this.sockets : [];
    const specs = sockets.map((socket, i) => ({ fd: FIRST_SOCKET_FD + i, protocol: socket.protocol, name: socket.name }));
    const logging = childLogging(this.options, FIRST_SOCKET_FD + sockets.length + 1); // the log pipes follow the shared region
    const child = spawn(process.execPath, [...childExecArgv(this.options), MAIN_SCRIPT], {
      env: { ...process.env, ...workerEnvironment({ ...role, masterPid: process.pid, options: this.options, sockets: specs }), ...logging.env },
      stdio: ['inherit', logging.stdout, logging.stderr, 'ipc', ...sockets.map((socket) => socket.fd), this.shared.region.fd, ...logging.extra],
    });
    logging.collect(child, `${role.spooler === undefined ? 'worker' : 'spooler'} ${role.workerId}`);
    const label = `${role.spooler === undefined ? 'worker' : 'spooler'} ${role.workerId} (pid ${child.pid})`;
    const peer: ChildPeer = { pid: child.pid ?? 0, channel: null as unknown as ChildChannel };
    peer.channel = new Channel<ChildActs, MasterActs, ChildPeer>(label, CHILD_ACTS, this.#handlers, (message) => {
      if (child.connected) child.send(message);
    });
    child.on('message', (message) => peer.channel.receive(message, peer));
    child.on('exit', () => this.#childExited(peer.pid));
    return { process: child, channel: peer.channel };
  }

  /**
   * The master's own end of a channel, for a single process whose worker runs in-process:
   * what the api posts reaches the same handlers a child's messages do.
   */
  localChannel(): Channel<MasterActs, ChildActs> {
    const self: ChildPeer = { pid: process.pid, channel: null as unknown as ChildChannel };
    const toWorker = new Channel<MasterActs, ChildActs>('worker', {} as never, {}, (message) => queueMicrotask(() => self.channel.receive(message, self)));
    self.channel = new Channel<ChildActs, MasterActs, ChildPeer>('single process', CHILD_ACTS, this.#handlers, (message) => queueMicrotask(() => toWorker.receive(message, undefined)));
    return toWorker;
  }

  #childReady(from: ChildPeer): void {
    for (const subsystem of this.subsystems) subsystem.children?.markReady(from.pid);
  }

  /** A child exited: every subsystem hears of it (locks it held are reaped, its signal handlers forgotten). */
  #childExited(pid: number): void {
    for (const subsystem of this.subsystems) subsystem.childExited?.(pid);
  }

  /** A full reload re-reads the config first (a broken one cancels it); a workers-only one reloads just them. */
  reload(kind: ReloadKind = 'graceful'): void {
    if (this.#stopping) return;
    if ((kind === 'graceful' || kind === 'brutal') && this.readOptions) {
      const next = reconfigured(this.options, this.readOptions);
      if (next === undefined) return;
      this.options = next;
    }
    const targets = kind === 'graceful' || kind === 'brutal' ? this.subsystems : this.subsystems.filter((subsystem) => subsystem.name === 'workers');
    for (const subsystem of targets) subsystem.reload?.(kind);
  }

  /** Graceful shutdown; the same signal again (or `brutal`) stops everything at once. */
  shutdown(reason: string, code: number, brutal = false): void {
    if (this.#stopping && !brutal) {
      // `timeout` and process-group kills deliver the same signal twice at once: only a
      // second, deliberate signal means "stop waiting".
      if (Date.now() - this.#stoppingSince < 1000) return;
      return this.#stopNow(`${reason} again`);
    }
    if (!this.#stopping) {
      this.#stopping = true;
      this.#stoppingSince = this.#lastWaitingLog = Date.now();
      this.#exitCode = code;
    }
    if (brutal) return this.#stopNow(reason);
    log(`${reason}: graceful shutdown (finishing in-flight requests, at most ${this.options['reload-mercy']} s)`);
    for (const subsystem of this.subsystems) subsystem.stopGracefully?.();
    this.wake();
  }

  #stopNow(why: string): void {
    log(`${why}: stopping everything now`);
    for (const subsystem of this.subsystems) subsystem.stopBrutally?.();
    this.wake();
  }

  #busy(): boolean {
    return this.subsystems.some((subsystem) => subsystem.busy?.() ?? subsystem.children?.alive);
  }

  /** Every few seconds of a shutdown that waits: what it waits for, and the mercy left. */
  #logWaiting(now: number): void {
    if (now - this.#lastWaitingLog < WAITING_LOG_MS) return;
    this.#lastWaitingLog = now;
    const waiting = this.subsystems.map((subsystem) => subsystem.waitingFor?.()).filter(Boolean);
    const left = Math.max(0, Math.ceil(this.options['reload-mercy'] - (now - this.#stoppingSince) / 1000));
    log(`shutdown waits for ${waiting.join(', ') || 'children to exit'}: ${left} s of --reload-mercy left`);
  }

  #close(): void {
    for (const subsystem of this.subsystems) subsystem.close?.();
    closeSockets(this.sockets); // the files stay unless --vacuum (runtime/jail/vacuum.ts), as in uWSGI
  }

  #exit(): never {
    this.#close();
    log(`goodbye to tsgi (exit ${this.#exitCode})`);
    flushLog();
    process.exit(this.#exitCode);
  }
}

function sooner(next: number, due: number | void | undefined): number {
  return due ? Math.min(next, due) : next;
}
