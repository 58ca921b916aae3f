/**
 * Tells systemd (Type=notify) where the instance stands: READY=1 once every worker is ready —
 * not when the master starts, so a unit ordered After= this one finds it serving —, RELOADING=1
 * on a full reload and READY=1 again when the new generation serves, STOPPING=1 at shutdown,
 * and a STATUS= line with each.
 */
import type { ChildPool } from '../master/child-pool.js';
import type { MasterHost, ReloadKind, Subsystem } from '../master/subsystem.js';
import { Notifier } from './notify.js';

/** CLOCK_MONOTONIC in µs, as Type=notify-reload wants beside RELOADING=1 (libuv's hrtime is that clock). */
function monotonicMicros(): string {
  return String(process.hrtime.bigint() / 1000n);
}

export class Systemd implements Subsystem {
  readonly name = 'systemd';
  readonly #notifier = new Notifier();
  #host!: MasterHost;
  #enabled = false;
  #readySent = false;
  #stopping = false;

  start(host: MasterHost): void {
    this.#host = host;
    this.#enabled = this.#notifier.open();
    if (this.#enabled) this.#notifier.send(`MAINPID=${process.pid}`, 'STATUS=starting');
  }

  /** Workers ready: a pool whose every slot serves, or the in-process worker (started before the first pass). */
  #workersReady(): boolean {
    const pool: ChildPool | undefined = this.#host.subsystem('workers')?.children;
    return pool === undefined || pool.allReady();
  }

  cycle(): void {
    if (!this.#enabled || this.#readySent || this.#stopping || !this.#workersReady()) return;
    this.#readySent = true;
    const workers = this.#host.subsystem('workers')?.children?.current().length ?? 1;
    const sockets = this.#host.sockets.map((socket) => socket.name).join(', ');
    this.#notifier.send('READY=1', `STATUS=serving on ${sockets || 'no socket'} with ${workers} worker(s)`);
  }

  reload(kind: ReloadKind): void {
    if (!this.#enabled || this.#stopping) return;
    this.#readySent = false;
    this.#notifier.send('RELOADING=1', `MONOTONIC_USEC=${monotonicMicros()}`, `STATUS=reloading (${kind})`);
  }

  stopGracefully(): void {
    this.#stop('STATUS=stopping: finishing in-flight requests');
  }

  stopBrutally(): void {
    this.#stop('STATUS=stopping now');
  }

  #stop(status: string): void {
    if (!this.#enabled || this.#stopping) return;
    this.#stopping = true;
    this.#notifier.send('STOPPING=1', status);
  }

  close(): void {
    this.#notifier.close();
  }
}
