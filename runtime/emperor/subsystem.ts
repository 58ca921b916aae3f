/**
 * The Emperor as a subsystem of the master's loop (a master of masters): each pass polices the
 * vassals (curse tolerance, heartbeats) and, every --emperor-freq seconds or right after a
 * vassal exited, scans the monitors and brings the vassal table in step. SIGHUP reloads every
 * vassal gracefully, SIGTERM stops them all gracefully and the master exits once none is left.
 */
import type { Server } from 'node:net';
import { log, setLogPrefix } from '../logger.js';
import type { MasterHost, StatsRows, Subsystem } from '../master/subsystem.js';
import { startStatsServer } from '../stats/server.js';
import { monitorOf, type Monitor } from './monitor.js';
import { emperorStatsDocument } from './stats.js';
import { VassalTable } from './vassals.js';

export class Emperor implements Subsystem {
  readonly name = 'emperor';
  #table!: VassalTable;
  #monitors: Monitor[] = [];
  #nextScan = 0;
  #throttledAt = 0;
  #stats: Server | null = null;
  #freqMs = 3000;

  start(host: MasterHost): void {
    const { options } = host;
    setLogPrefix('[emperor]');
    this.#monitors = options.emperor.map(monitorOf);
    this.#freqMs = options['emperor-freq'] * 1000;
    this.#table = new VassalTable(options, this.#monitors, () => host.wake());
    log(`*** starting the tsgi Emperor (pid ${process.pid}) on ${this.#monitors.map((m) => `${m.kind}://${m.target}`).join(', ')}${options['emperor-tyrant'] ? ' in tyrant mode' : ''} ***`);
    if (options['emperor-stats'] !== undefined) {
      this.#stats = startStatsServer({ ...options, stats: options['emperor-stats'] }, () => emperorStatsDocument(this.#table, this.#monitors, options['emperor-tyrant']));
    }
  }

  cycle(now: number): number | void {
    const asked = this.#table.takeScanRequest();
    const throttledDue = this.#throttledAt > 0 && now >= this.#throttledAt;
    if (asked || throttledDue || now >= this.#nextScan) {
      this.#throttledAt = this.#table.sync(now);
      if (!asked || this.#nextScan === 0) this.#nextScan = now + this.#freqMs;
    }
    const police = this.#table.police(now);
    return Math.min(this.#nextScan, this.#throttledAt || Infinity, police || Infinity);
  }

  reload(): void {
    this.#table.reloadAll();
  }

  stopGracefully(): void {
    this.#table.stopAll(true);
  }

  stopBrutally(): void {
    this.#table.killAll();
  }

  busy(): boolean {
    return this.#table.alive > 0;
  }

  waitingFor(): string | undefined {
    const vassals = this.#table.vassals();
    return vassals.length === 0 ? undefined : `${vassals.length} vassal(s) (${vassals.map((v) => `${v.name} pid ${v.pid}`).join(', ')}) stopping`;
  }

  stats(): StatsRows {
    return { vassals: this.#table.vassals().map((v) => ({ id: v.name, pid: v.pid, loyal: v.loyal })) };
  }

  close(): void {
    this.#stats?.close();
  }
}
