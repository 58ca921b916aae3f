/**
 * The master's side of the spoolers: `--spooler-processes` processes per `--spooler` directory,
 * respawned when they die ("OOOPS the spooler is no more"), replaced on reload, stopped on
 * shutdown, woken when a task is queued in their directory, and reachable by uWSGI signals
 * whose target is 'spooler'.
 */
import type { ChildProcess } from 'node:child_process';
import { EXIT } from '../errors.js';
import type { MasterMessage } from '../ipc.js';
import { log } from '../logger.js';
import type { Options } from '../options.js';
import type { SignalPeer } from '../signals/hub.js';

interface SpoolerProcess {
  id: number;
  dir: string;
  child: ChildProcess;
  pid: number;
  ready: boolean;
  /** Told to stop (reload, shutdown): its exit is expected. */
  stopping: boolean;
  spawnedAt: number;
}

/** A spooler that dies this soon after its spawn waits before the next one (no fork bomb). */
const RESPAWN_GUARD_MS = 1000;

export interface SpoolerPoolHooks {
  /** Starts spooler process `id` for `dir` (the master knows the fds and environment). */
  spawn(id: number, dir: string, onReady: () => void): ChildProcess;
  /** A spooler process is gone: forget its signal handlers, reap its locks. */
  exited(pid: number): void;
}

export class SpoolerPool {
  readonly #processes = new Set<SpoolerProcess>();
  #stopping = false;

  constructor(private readonly options: Options, private readonly hooks: SpoolerPoolHooks) {}

  start(): void {
    const perDir = this.options['spooler-processes'];
    this.options.spooler.forEach((dir, d) => {
      for (let p = 1; p <= perDir; p++) this.#spawn(d * perDir + p, dir);
    });
  }

  get alive(): number {
    return this.#processes.size;
  }

  #spawn(id: number, dir: string): void {
    const spooler = { id, dir, pid: 0, ready: false, stopping: false, spawnedAt: Date.now() } as SpoolerProcess;
    spooler.child = this.hooks.spawn(id, dir, () => void (spooler.ready = true));
    spooler.pid = spooler.child.pid ?? 0;
    this.#processes.add(spooler);
    spooler.child.on('exit', (code, signal) => this.#onExit(spooler, code, signal));
    log(`spawned spooler ${id} (pid ${spooler.pid}) on ${dir}`);
  }

  #onExit(spooler: SpoolerProcess, code: number | null, signal: NodeJS.Signals | null): void {
    this.#processes.delete(spooler);
    this.hooks.exited(spooler.pid);
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    if (spooler.stopping || this.#stopping) return log(`spooler ${spooler.id} (pid ${spooler.pid}) stopped (${how})`);
    if (code === EXIT.SPOOLER_RECYCLE) {
      log(`spooler ${spooler.id} (pid ${spooler.pid}) ran its ${this.options['spooler-max-tasks']} tasks (--spooler-max-tasks): starting a fresh one`);
      return this.#spawn(spooler.id, spooler.dir);
    }
    log(`OOOPS the spooler ${spooler.id} (pid ${spooler.pid}) is no more (${how}): respawning; its unfinished task runs again`);
    const early = Date.now() - spooler.spawnedAt < RESPAWN_GUARD_MS;
    if (!early) return this.#spawn(spooler.id, spooler.dir);
    setTimeout(() => this.#stopping || this.#spawn(spooler.id, spooler.dir), RESPAWN_GUARD_MS);
  }

  /** Graceful reload: fresh spoolers start now; the old ones finish their task and exit. */
  reload(): void {
    for (const old of [...this.#processes]) {
      this.#stop(old);
      this.#spawn(old.id, old.dir);
    }
  }

  /** Shutdown: every spooler finishes its task (within --reload-mercy) and exits. */
  shutdown(): void {
    this.#stopping = true;
    for (const spooler of this.#processes) this.#stop(spooler);
  }

  /** Second SIGTERM: stop waiting. */
  killAll(): void {
    for (const spooler of this.#processes) spooler.child.kill('SIGKILL');
  }

  #stop(spooler: SpoolerProcess): void {
    spooler.stopping = true;
    // Still importing the app: no task is running, and it does not listen for messages yet.
    if (spooler.ready) this.#send(spooler, { act: 'stop' });
    else spooler.child.kill('SIGTERM');
    const mercy = this.options['reload-mercy'] * 1000 + 1000;
    setTimeout(() => this.#processes.has(spooler) && spooler.child.kill('SIGKILL'), mercy).unref();
  }

  /** A task was queued in `dir`: its idle spoolers scan now (booting ones scan when ready). */
  wake(dir: string): void {
    for (const spooler of this.#processes) if (spooler.dir === dir && spooler.ready && !spooler.stopping) this.#send(spooler, { act: 'wake' });
  }

  /** The spoolers as the signal hub sees them (target 'spooler'). */
  peers(): SignalPeer[] {
    return [...this.#processes].map((spooler) => ({
      id: spooler.id,
      pid: spooler.pid,
      ready: spooler.ready && !spooler.stopping,
      deliver: (num: number) => this.#send(spooler, { act: 'signal', num }),
    }));
  }

  #send(spooler: SpoolerProcess, message: MasterMessage): void {
    if (spooler.child.connected) spooler.child.send(message);
  }
}
