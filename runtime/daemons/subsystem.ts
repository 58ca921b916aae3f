/**
 * Daemons (uWSGI's attached daemons, semantics.md §12): external programs the master runs beside
 * the workers and keeps running. Plain ones live in a child pool (attached.ts); smart ones,
 * which fork themselves, are governed by their pidfiles (smart.ts). They are numbered in
 * configuration order (options.ts) and listed as the `daemons` rows of the stats document.
 */
import type { ChildPool } from '../master/child-pool.js';
import type { MasterHost, StatsRows, Subsystem } from '../master/subsystem.js';
import { AttachedDaemons } from './attached.js';
import { SmartDaemon } from './smart.js';
import { daemonSpecs, type DaemonSpec } from './spec.js';

/** uWSGI waits --reload-mercy for a stopping daemon, or 3 s when it is 0. */
const DEFAULT_MERCY_S = 3;

export class Daemons implements Subsystem {
  readonly name = 'daemons';
  children?: ChildPool;
  #attached: AttachedDaemons | null = null;
  #smart: SmartDaemon[] = [];

  start(host: MasterHost): void {
    const specs = daemonSpecs(host.options);
    if (specs.length === 0) return;
    const mercyMs = (host.options['reload-mercy'] || DEFAULT_MERCY_S) * 1000;
    const numbered = specs.map((spec, i) => [i + 1, spec] as const);
    const plain = numbered.filter(([, spec]) => spec.pidfile === undefined);
    this.#smart = numbered.flatMap(([id, spec]) => (isSmart(spec) ? [new SmartDaemon(id, spec, mercyMs)] : []));
    if (plain.length > 0) {
      this.#attached = new AttachedDaemons(plain, mercyMs, () => host.wake());
      this.children = this.#attached.pool;
      this.#attached.start();
    }
    for (const daemon of this.#smart) daemon.start();
  }

  cycle(now: number): number | void {
    let next = this.#attached?.cycle(now) ?? 0;
    for (const daemon of this.#smart) {
      const due = daemon.cycle(now);
      if (due) next = next ? Math.min(next, due) : due;
    }
    return next || undefined;
  }

  reload(): void {
    this.#attached?.reload();
    for (const daemon of this.#smart) daemon.reload();
  }

  stopGracefully(): void {
    this.children?.stopGracefully();
    for (const daemon of this.#smart) daemon.stopGracefully();
  }

  stopBrutally(): void {
    this.children?.stopBrutally();
    for (const daemon of this.#smart) daemon.stopBrutally();
  }

  busy(): boolean {
    return (this.children?.alive ?? 0) > 0 || this.#smart.some((daemon) => daemon.alive());
  }

  waitingFor(): string | undefined {
    const pids = [...(this.children?.children() ?? []).map((child) => child.pid), ...this.#smart.filter((d) => d.alive()).map((d) => Number(d.row().pid))];
    return pids.length === 0 ? undefined : `${pids.length} daemon(s) (pid ${pids.join(', ')}) stopping`;
  }

  /** uWSGI's `daemons` rows: cmd, pid (0 while none runs), respawns. */
  stats(): StatsRows {
    if (this.#attached === null && this.#smart.length === 0) return {};
    const rows = [...(this.#attached?.rows() ?? []), ...this.#smart.map((daemon) => [daemon.id, daemon.row()] as const)];
    return { daemons: rows.sort(([a], [b]) => a - b).map(([, row]) => row) };
  }
}

function isSmart(spec: DaemonSpec): spec is DaemonSpec & { pidfile: string } {
  return spec.pidfile !== undefined;
}
