/**
 * The master (uWSGI's `--master`, gunicorn's arbiter): binds the sockets, spawns the workers,
 * respawns the ones that die, reloads gracefully on SIGHUP and shuts down on SIGTERM/SIGINT.
 *
 * POSIX signal handlers only enqueue; `#drainSignals` handles them one at a time through a
 * name table, so no two state changes ever interleave.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { reportBootError } from '../boot/boot-error.js';
import { EXIT } from '../errors.js';
import { childExecArgv } from '../boot/heap.js';
import { FIRST_SOCKET_FD, workerEnvironment, type MasterMessage, type WorkerMessage } from '../ipc.js';
import { bindSockets, closeSockets, type BoundSocket } from './listeners.js';
import { flushLog, log, setLogPrefix } from '../logger.js';
import type { Options } from '../options.js';
import { removePidfile, writePidfile } from './pidfile.js';
import { cronEntry } from '../signals/cron.js';
import { SignalHub } from '../signals/hub.js';
import { startHousekeeping } from './housekeeping.js';
import { createSharedState, type SharedState } from '../shared/state.js';
import { startStatsServer, statsDocument } from '../stats/server.js';
import type { Server } from 'node:net';
import { mkdirSync, accessSync, constants as fsConstants } from 'node:fs';
import { SpoolerPool } from '../spooler/pool.js';
import { tsgiError } from '../errors.js';

type WorkerState = 'booting' | 'ready' | 'stopping' | 'dead';

interface WorkerProcess {
  id: number;
  child: ChildProcess;
  pid: number;
  state: WorkerState;
  /** Which reload generation spawned it. */
  generation: number;
  spawnedAt: number;
}

type MasterSignal = 'SIGHUP' | 'SIGTERM' | 'SIGINT';

const MAIN_SCRIPT = fileURLToPath(new URL('../main.js', import.meta.url));
/** uWSGI's fork-bomb guard: too many respawns within a second → pause this long. */
const FORKBOMB_DELAY_MS = 2000;

export class Master {
  #sockets: BoundSocket[] = [];
  #shared!: SharedState;
  #stopHousekeeping: () => void = () => {};
  #statsServer: Server | null = null;
  /** The serving generation, one per worker id. */
  readonly #workers = new Map<number, WorkerProcess>();
  /** Workers of an older generation, finishing their requests after a reload. */
  readonly #retiring = new Set<WorkerProcess>();
  readonly #signals: MasterSignal[] = [];
  #generation = 0;
  #everReady = false;
  #stopping = false;
  #lastRespawn = 0;
  #fastRespawns = 0;
  #exitCode = 0;
  #stoppingSince = 0;
  readonly #spoolers: SpoolerPool;
  readonly #hub = new SignalHub(() => this.#all().map((worker) => ({
    id: worker.id,
    pid: worker.pid,
    ready: worker.state === 'ready',
    deliver: (num: number) => this.#send(worker, { act: 'signal', num }),
  })), () => this.#spoolers.peers());

  constructor(readonly options: Options) {
    this.#spoolers = new SpoolerPool(options, {
      spawn: (id, dir, onReady) => {
        const child = this.#spawnChild({ workerId: id, spooler: dir }, onReady);
        this.#shared.spoolers?.spawned(id, child.pid ?? 0);
        return child;
      },
      exited: (pid) => {
        this.#childGone(pid);
        if (this.#stopping) this.#finishShutdownIfDone();
      },
    });
  }

  async start(): Promise<void> {
    setLogPrefix('[master]');
    log(`tsgi master (pid ${process.pid}) starting: ${this.options.processes} worker(s) × ${this.options.async} core(s)`);
    try {
      this.#sockets = await bindSockets(this.options);
    } catch (error) {
      reportBootError(error, 'tsgi');
      process.exit(1);
    }
    if (this.options.pidfile) writePidfile(this.options.pidfile);
    try {
      prepareSpoolerDirs(this.options);
      this.#shared = createSharedState(this.options);
    } catch (error) {
      reportBootError(error, 'tsgi');
      closeSockets(this.#sockets);
      process.exit(1);
    }
    this.#stopHousekeeping = startHousekeeping(this.#shared, this.options);
    if (this.options.stats) this.#statsServer = startStatsServer(this.options, () => statsDocument(this.options, this.#shared, this.#sockets));
    for (const signal of ['SIGHUP', 'SIGTERM', 'SIGINT'] as const) process.on(signal, () => this.#enqueue(signal));
    for (const line of this.options.cron) this.#hub.addCommandCron(...cronEntry(line));
    for (let id = 1; id <= this.options.processes; id++) this.#spawn(id);
    this.#spoolers.start();
  }

  #send(worker: WorkerProcess, message: MasterMessage): void {
    if (worker.child.connected) worker.child.send(message);
  }

  // Signal handling: enqueue only, then drain in order.
  #enqueue(signal: MasterSignal): void {
    this.#signals.push(signal);
    if (this.#signals.length === 1) setImmediate(() => this.#drainSignals());
  }

  #drainSignals(): void {
    for (let signal = this.#signals.shift(); signal; signal = this.#signals.shift()) this.#handlers[signal]();
  }

  readonly #handlers: Record<MasterSignal, () => void> = {
    SIGHUP: () => this.#reload(),
    SIGTERM: () => this.#shutdown('SIGTERM'),
    SIGINT: () => this.#shutdown('SIGINT'),
  };

  #spawn(id: number): WorkerProcess {
    const worker = { id, state: 'booting', generation: this.#generation, spawnedAt: Date.now() } as WorkerProcess;
    worker.child = this.#spawnChild({ workerId: id }, () => this.#onReady(worker));
    worker.pid = worker.child.pid ?? 0;
    this.#workers.set(id, worker);
    this.#shared.scoreboard.spawned(id, worker.pid);
    worker.child.on('exit', (code, signal) => this.#onExit(worker, code, signal));
    log(`spawned worker ${id} (pid ${worker.pid})`);
    return worker;
  }

  /** Starts a worker, or a spooler process (it inherits no sockets, only the shared region). */
  #spawnChild(role: { workerId: number; spooler?: string }, onReady: () => void): ChildProcess {
    const sockets = role.spooler === undefined ? this.#sockets : [];
    const child = spawn(process.execPath, [...childExecArgv(this.options), MAIN_SCRIPT], {
      env: { ...process.env, ...workerEnvironment({ ...role, masterPid: process.pid, options: this.options, sockets: this.#socketSpecs(sockets) }) },
      stdio: ['inherit', 'inherit', 'inherit', 'ipc', ...sockets.map((socket) => socket.fd), this.#shared.region.fd],
    });
    child.on('message', (message: WorkerMessage) => {
      if (message.act === 'ready') onReady();
      else if (message.act === 'spooled') this.#spoolers.wake(message.dir);
      else this.#hub.handle(child.pid ?? 0, message);
    });
    return child;
  }

  /** A child exited: it holds no signal handlers, and a lock it held in a cache/queue operation frees now (the next taker repairs). */
  #childGone(pid: number): void {
    this.#hub.forget(pid);
    this.#shared.cache?.lock.reap(pid);
    this.#shared.queue?.lock.reap(pid);
  }

  #socketSpecs(sockets: BoundSocket[]): Array<{ fd: number; protocol: string; name: string }> {
    return sockets.map((socket, i) => ({ fd: FIRST_SOCKET_FD + i, protocol: socket.protocol, name: socket.name }));
  }

  #onReady(worker: WorkerProcess): void {
    if (worker.state !== 'booting') return;
    worker.state = 'ready';
    if (!this.#everReady && [...this.#workers.values()].every((w) => w.state === 'ready')) {
      this.#everReady = true;
      log(`all ${this.#workers.size} workers ready`);
    }
    // A reload: the new worker accepts now, so its predecessor may stop.
    for (const old of this.#retiring) if (old.id === worker.id && old.state === 'ready') this.#stopWorker(old);
  }

  #onExit(worker: WorkerProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const previous = worker.state;
    const wasRetiring = this.#retiring.delete(worker);
    const current = this.#workers.get(worker.id) === worker;
    worker.state = 'dead';
    this.#childGone(worker.pid);
    if (current) this.#workers.delete(worker.id);
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    if (this.#stopping) {
      log(`worker ${worker.id} (pid ${worker.pid}) stopped (${how})`);
      return this.#finishShutdownIfDone();
    }
    if (wasRetiring) return log(`worker ${worker.id} (pid ${worker.pid}) of generation ${worker.generation} retired (${how})`);
    if (previous === 'stopping' || !current) return log(`worker ${worker.id} (pid ${worker.pid}) stopped (${how})`);
    if (previous === 'booting' && (code === EXIT.APP_LOAD_ERROR || code === EXIT.WORKER_BOOT_ERROR)) return this.#onBootFailure(worker, how);
    log(`worker ${worker.id} (pid ${worker.pid}) died (${how}), respawning`);
    this.#respawn(worker.id);
  }

  /** An app that cannot load is not respawned in a loop. */
  #onBootFailure(worker: WorkerProcess, how: string): void {
    if (!this.#everReady) {
      log(`worker ${worker.id} could not load the app (${how}): shutting down`);
      this.#shutdown('boot failure', 1);
      return;
    }
    if (this.#retiring.size === 0) {
      // A respawn (not a reload) found the app broken on disk: keep trying, slowly.
      log(`worker ${worker.id} could not load the app (${how}): retrying in ${FORKBOMB_DELAY_MS / 1000} s`);
      setTimeout(() => this.#stopping || this.#workers.has(worker.id) || this.#spawn(worker.id), FORKBOMB_DELAY_MS);
      return;
    }
    log(`reload aborted: worker ${worker.id} of the new generation could not load the app (${how}); the previous workers keep serving`);
    for (const old of [...this.#retiring]) {
      const fresh = this.#workers.get(old.id);
      if (old.state !== 'ready' || fresh?.state === 'ready') continue; // already handed over
      if (fresh) this.#kill(fresh);
      this.#retiring.delete(old);
      this.#workers.set(old.id, old);
    }
  }

  #respawn(id: number): void {
    const now = Date.now();
    this.#fastRespawns = now - this.#lastRespawn < 1000 ? this.#fastRespawns + 1 : 0;
    this.#lastRespawn = now;
    if (this.#fastRespawns <= this.options.processes) return void this.#spawn(id);
    log(`worker respawning too fast !!! sleeping ${FORKBOMB_DELAY_MS / 1000} seconds`);
    this.#fastRespawns = 0;
    setTimeout(() => this.#stopping || this.#spawn(id), FORKBOMB_DELAY_MS);
  }

  /** SIGHUP: a new generation takes over, the old one finishes its requests and exits. */
  #reload(): void {
    if (this.#stopping) return;
    this.#generation++;
    log(`graceful reload: spawning generation ${this.#generation}`);
    this.#spoolers.reload();
    for (const old of [...this.#workers.values()]) {
      if (old.state === 'ready') this.#retiring.add(old);
      else this.#kill(old); // still booting: the new generation replaces it
      this.#spawn(old.id);
    }
  }

  /** Kills a worker on purpose: its exit is not a death to respawn. */
  #kill(worker: WorkerProcess): void {
    if (worker.state === 'dead') return;
    worker.state = 'stopping';
    worker.child.kill('SIGKILL');
  }

  #stopWorker(worker: WorkerProcess): void {
    worker.state = 'stopping';
    if (worker.child.connected) this.#send(worker, { act: 'stop' });
    else worker.child.kill('SIGTERM');
    const mercy = this.options['reload-mercy'] * 1000 + 1000;
    setTimeout(() => worker.state !== 'dead' && worker.child.kill('SIGKILL'), mercy).unref();
  }


  /** SIGTERM/SIGINT: graceful shutdown; the same signal again kills the workers at once. */
  #shutdown(reason: string, exitCode = 0): void {
    if (this.#stopping) {
      // `timeout` and process-group kills deliver the same signal twice at once: only a
      // second, deliberate signal means "stop waiting".
      if (Date.now() - this.#stoppingSince < 1000) return;
      log(`${reason} again: killing the workers now`);
      for (const worker of this.#all()) worker.child.kill('SIGKILL');
      this.#spoolers.killAll();
      return;
    }
    this.#stopping = true;
    this.#stoppingSince = Date.now();
    this.#exitCode = exitCode;
    log(`${reason}: graceful shutdown (finishing in-flight requests, at most ${this.options['reload-mercy']} s)`);
    for (const worker of this.#all()) if (worker.state !== 'dead') this.#stopWorker(worker);
    this.#spoolers.shutdown();
    this.#finishShutdownIfDone();
  }

  #all(): WorkerProcess[] {
    return [...this.#workers.values(), ...this.#retiring];
  }

  #finishShutdownIfDone(): void {
    if (this.#all().some((worker) => worker.state !== 'dead') || this.#spoolers.alive > 0) return;
    this.#hub.close();
    this.#stopHousekeeping();
    this.#statsServer?.close();
    closeSockets(this.#sockets);
    if (this.options.pidfile) removePidfile(this.options.pidfile);
    log(`goodbye to tsgi (exit ${this.#exitCode})`);
    flushLog();
    process.exit(this.#exitCode);
  }
}

/** Creates every spooler directory (uWSGI does too) and checks that tsgi may write there. */
function prepareSpoolerDirs(options: Options): void {
  for (const dir of [...options.spooler, ...options['spooler-external']]) {
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, fsConstants.R_OK | fsConstants.W_OK | fsConstants.X_OK);
    } catch (error) {
      throw tsgiError('TSGI_ERR_SPOOLER_DIR', `--spooler ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
}
