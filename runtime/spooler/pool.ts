/**
 * The master's side of the spoolers: `--spooler-processes` processes per `--spooler` directory
 * in a {@link ChildPool}, respawned when they die ("OOOPS the spooler is no more"), replaced on
 * reload, stopped on shutdown, woken when a task is queued in their directory, and reachable by
 * uWSGI signals whose target is 'spooler'.
 */
import { accessSync, constants as fsConstants, mkdirSync } from 'node:fs';
import { EXIT, tsgiError } from '../errors.js';
import type { Handlers, ChildActs } from '../ipc.js';
import { ChildPool, type Child } from '../master/child-pool.js';
import type { ChildChannel, ChildPeer, MasterHost, StatsRows, Subsystem } from '../master/subsystem.js';
import { range } from '../master/workers.js';
import type { Options } from '../options.js';
import type { SignalPeer } from '../signals/hub.js';

export class Spoolers implements Subsystem {
  readonly name = 'spoolers';
  children?: ChildPool;
  readonly #channels = new WeakMap<Child['process'], ChildChannel>();
  #dirOf: (slot: number) => string = () => '';
  #host!: MasterHost;

  readonly handlers: Handlers<ChildActs, ChildPeer> = {
    spooled: (message) => this.wake(message.dir),
  };

  start(host: MasterHost): void {
    this.#host = host;
    const { options } = host;
    prepareSpoolerDirs(options);
    if (options.spooler.length === 0) return;
    const perDir = options['spooler-processes'];
    // Spoolers are numbered 1… per directory in turn; the process derives its share from it.
    this.#dirOf = (slot) => options.spooler[Math.floor((slot - 1) / perDir)]!;
    this.children = new ChildPool({
      noun: 'spooler',
      spawn: (slot) => {
        const { process, channel } = host.spawnChild({ workerId: slot, spooler: this.#dirOf(slot) });
        this.#channels.set(process, channel);
        host.shared.spoolers?.spawned(slot, process.pid ?? 0);
        return process;
      },
      // Still importing the app: no task is running, and it does not listen for messages yet.
      stop: (child) => (child.state === 'ready' ? this.#channel(child)?.post({ act: 'stop' }) : child.process.kill('SIGTERM')),
      describe: (slot) => `on ${this.#dirOf(slot)}`,
      plannedExit: (child, code) => (code === EXIT.SPOOLER_RECYCLE
        ? `spooler ${child.slot} (pid ${child.pid}) ran its ${options['spooler-max-tasks']} tasks (--spooler-max-tasks): starting a fresh one`
        : undefined),
      deathLine: (child, how) => `OOOPS the spooler ${child.slot} (pid ${child.pid}) is no more (${how}): respawning; its unfinished task runs again`,
    }, options['reload-mercy'] * 1000 + 1000, () => host.wake());
    this.children.start(range(options.spooler.length * perDir));
  }

  #channel(child: Child): ChildChannel | undefined {
    return this.#channels.get(child.process);
  }

  reload(): void {
    this.children?.reload();
  }

  stopGracefully(): void {
    this.children?.stopGracefully();
  }

  stopBrutally(): void {
    this.children?.stopBrutally();
  }

  waitingFor(): string | undefined {
    const alive = this.children?.children() ?? [];
    return alive.length === 0 ? undefined : `${alive.length} spooler(s) (pid ${alive.map((child) => child.pid).join(', ')}) finishing their tasks`;
  }

  /** A task was queued in `dir`: its idle spoolers scan now (booting ones scan when ready). */
  wake(dir: string): void {
    for (const child of this.children?.readyChildren() ?? []) if (this.#dirOf(child.slot) === dir) this.#channel(child)?.post({ act: 'wake' });
  }

  /** uWSGI's `spoolers` rows: dir, pid, tasks answered, respawns, running. */
  stats(): StatsRows {
    const board = this.#host.shared.spoolers;
    return board ? { spoolers: board.readAll() } : {};
  }

  /** The spoolers as the signal hub sees them (target 'spooler'). */
  signalPeers(): SignalPeer[] {
    return (this.children?.current() ?? []).map((child) => ({
      id: child.slot,
      pid: child.pid,
      ready: child.state === 'ready',
      deliver: (num: number) => this.#channel(child)?.post({ act: 'signal', num }),
    }));
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
