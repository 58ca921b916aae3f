/**
 * The plain attached daemons (`--attach-daemon CMD`, attach-daemon2 without a pidfile): one
 * {@link ChildPool} slot each, so the master's loop reaps them and respawns them with the same
 * growing back-off as a worker (a command that exits at once is no fork bomb). Stopping one
 * signals its process group; the mercy's SIGKILL reaches the shell, and whatever it left in its
 * group is killed when it has exited, so no daemon's child outlives its daemon.
 *
 * A graceful reload (SIGHUP) or a touched file stops the daemon and starts it again once it has
 * exited (uWSGI stops its daemons before it re-executes; starting the new one first would race
 * the old one for its port or lock). A daemon with a reloadsignal gets that signal instead.
 */
import { log } from '../logger.js';
import { ChildPool, type Child } from '../master/child-pool.js';
import { groupMembers, launch, signalGroup } from './launch.js';
import type { DaemonSpec } from './spec.js';
import { TouchWatch } from './touch.js';

/** How often touch= files are compared. */
const TOUCH_CHECK_MS = 1000;

interface Attached {
  readonly spec: DaemonSpec;
  readonly touch: TouchWatch;
  spawns: number;
}

export class AttachedDaemons {
  readonly pool: ChildPool;
  readonly #daemons: Map<number, Attached>;
  /** Stopped for a restart: spawned again once their slot has emptied. */
  readonly #restarting = new Set<number>();
  #nextTouchCheck = 0;

  constructor(daemons: ReadonlyArray<readonly [number, DaemonSpec]>, mercyMs: number, wake: () => void) {
    this.#daemons = new Map(daemons.map(([id, spec]) => [id, { spec, touch: new TouchWatch(spec.touch), spawns: 0 }]));
    this.pool = new ChildPool({
      noun: 'daemon',
      readyOnSpawn: true,
      spawn: (id) => {
        const daemon = this.#daemons.get(id)!;
        daemon.spawns++;
        return launch(daemon.spec.cmd, `[daemon ${id}]`, { dieWithMaster: true });
      },
      stop: (child) => void signalGroup(child.pid, this.#spec(child.slot).stopSignal),
      describe: (id) => JSON.stringify(this.#spec(id).cmd),
      deathLine: (child, how) => `daemon ${child.slot} (pid ${child.pid}) ${JSON.stringify(this.#spec(child.slot).cmd)} died (${how}): respawning`,
    }, mercyMs, wake, { exited: (child) => killLeftovers(child) });
  }

  #spec(id: number): DaemonSpec {
    return this.#daemons.get(id)!.spec;
  }

  start(): void {
    this.pool.start(this.#daemons.keys());
  }

  /** SIGHUP: every daemon restarts, or gets its reloadsignal. */
  reload(): void {
    for (const id of this.#daemons.keys()) this.#reloadOne(id, 'graceful reload');
  }

  #reloadOne(id: number, why: string): void {
    const { spec } = this.#daemons.get(id)!;
    const child = this.pool.current().find((candidate) => candidate.slot === id);
    const name = `daemon ${id}${child ? ` (pid ${child.pid})` : ''} ${JSON.stringify(spec.cmd)}`;
    if (spec.reloadSignal !== undefined) {
      if (child === undefined) return;
      log(`${why}: sending ${spec.reloadSignal} to ${name} (reloadsignal)`);
      signalGroup(child.pid, spec.reloadSignal);
      return;
    }
    if (this.#restarting.has(id)) return;
    log(`${why}: restarting ${name}`);
    this.#restarting.add(id);
    this.pool.removeSlot(id);
  }

  /** One pass of the master's loop: respawn the restarted daemons whose old process has gone, compare touch= files. */
  cycle(now: number): number {
    for (const id of this.#restarting) {
      if (this.pool.slotIds().includes(id)) continue;
      this.#restarting.delete(id);
      this.pool.addSlot(id);
    }
    if (now >= this.#nextTouchCheck) {
      this.#nextTouchCheck = now + TOUCH_CHECK_MS;
      for (const [id, daemon] of this.#daemons) {
        const file = daemon.touch.touched();
        if (file !== undefined) this.#reloadOne(id, `${file} touched`);
      }
    }
    return this.#nextTouchCheck;
  }

  rows(): Array<[number, Record<string, unknown>]> {
    const current = new Map(this.pool.current().map((child) => [child.slot, child.pid]));
    return [...this.#daemons].map(([id, daemon]) => [id, { cmd: daemon.spec.cmd, pid: current.get(id) ?? 0, respawns: Math.max(0, daemon.spawns - 1) }]);
  }
}

/** The shell of a daemon exited: what it started in its group (a `sleep` in its loop) goes with it. */
function killLeftovers(child: Child): void {
  const left = groupMembers(child.pid);
  if (left.length > 0) log(`daemon ${child.slot} (pid ${child.pid}) left ${left.length} process(es) in its group (pid ${left.join(', ')}): killing them`);
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // the group is empty
  }
}
