/**
 * The workers: `--processes` worker processes in a {@link ChildPool} (fewer under --cheaper,
 * which adds and removes slots: cheaper.ts), each inheriting the listening sockets. A worker that dies is respawned; SIGHUP brings a new generation that
 * takes over slot by slot; an app that cannot load on the first start stops the instance.
 */
import { appsComeLater } from '../apps/options.js';
import { log } from '../logger.js';
import type { SignalPeer } from '../signals/hub.js';
import { startingWorkers } from './cheaper.js';
import { ChildPool, type Child } from './child-pool.js';
import { workerRows } from '../stats/server.js';
import type { Handlers, ChildActs } from '../ipc.js';
import { reloadWorkers } from './reload.js';
import type { ChildChannel, ChildPeer, MasterHost, ReloadKind, StatsRows, Subsystem } from './subsystem.js';

export class Workers implements Subsystem {
  readonly name = 'workers';
  children!: ChildPool;
  readonly #channels = new WeakMap<Child['process'], ChildChannel>();
  #announced = false;
  #host!: MasterHost;

  readonly handlers: Handlers<ChildActs, ChildPeer> = {
    // Mongrel2 round-robins its disconnect notices over every handler, so the worker running
    // the request rarely gets its own: the one that did passes it on, and the owner halts it.
    'zmq-disconnect': ({ keys }, from) => {
      for (const child of this.children.children()) {
        if (child.pid !== from.pid) this.#channel(child)?.post({ act: 'zmq-disconnect', keys });
      }
    },
  };

  start(master: MasterHost): void {
    this.#host = master;
    const { options } = master;
    this.children = new ChildPool({
      noun: 'worker',
      spawn: (id) => {
        const { process, channel } = master.spawnChild({ workerId: id });
        this.#channels.set(process, channel);
        master.shared.scoreboard.spawned(id, process.pid ?? 0);
        return process;
      },
      stop: (child) => {
        if (child.process.connected) this.#channel(child)?.post({ act: 'stop' });
        else child.process.kill('SIGTERM');
      },
    }, options['reload-mercy'] * 1000 + 1000, () => master.wake(), {
      ready: () => this.#announceReady(),
      bootFailedFirst: (child, how) => {
        log(`worker ${child.slot} could not load the app (${how}): shutting down`);
        master.shutdown('boot failure', 1);
      },
    });
    // A router-only instance (`tsgi --fastrouter … --fastrouter-to …`, `--http :9090 --http-to
    // /tmp/uwsgi.sock` as in the talk) has no app: no workers.
    const hasApp = options.module !== undefined || options['wsgi-file'] !== undefined || appsComeLater(options);
    this.children.start(range(hasApp ? startingWorkers(options) : 0));
  }

  #channel(child: Child): ChildChannel | undefined {
    return this.#channels.get(child.process);
  }

  #announceReady(): void {
    if (this.#announced || !this.children.allReady()) return;
    this.#announced = true;
    log(`all ${this.children.current().length} workers ready`);
  }

  reload(kind: ReloadKind = 'graceful'): void {
    reloadWorkers(this.children, kind, this.#host);
  }

  stopGracefully(): void {
    this.children.stopGracefully();
  }

  stopBrutally(): void {
    this.children.stopBrutally();
  }

  waitingFor(): string | undefined {
    const alive = this.children.children();
    return alive.length === 0 ? undefined : `${alive.length} worker(s) (pid ${alive.map((child) => child.pid).join(', ')}) finishing their requests`;
  }

  stats(): StatsRows {
    return workerRows(this.#host.shared, this.#host.options.async);
  }

  /** The workers as the signal hub sees them. */
  signalPeers(): SignalPeer[] {
    return this.children.children().map((child) => ({
      id: child.slot,
      pid: child.pid,
      ready: child.state === 'ready',
      deliver: (num: number) => this.#channel(child)?.post({ act: 'signal', num }),
    }));
  }
}

export function range(count: number, first = 1): number[] {
  return Array.from({ length: count }, (_, i) => first + i);
}
