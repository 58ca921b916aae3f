/**
 * A generic pool of supervised child processes, one per numbered slot: spawn, ready, reap,
 * respawn with a growing back-off (no fork bomb), reload generations (the new child of a slot
 * takes over once it is ready, then the old one is stopped), the mercy timeout and kill.
 * Workers and spoolers are pools today; daemons, gateways, vassals and threads reuse it.
 *
 * The pool does nothing on its own timers: a child's exit is recorded and the master woken, and
 * the master's loop calls {@link ChildPool.supervise} to reap, murder and respawn.
 */
import type { ChildProcess } from 'node:child_process';
import { EXIT } from '../errors.js';
import { log } from '../logger.js';

export type ChildState = 'booting' | 'ready' | 'stopping' | 'dead';

export interface Child {
  readonly slot: number;
  readonly process: ChildProcess;
  readonly pid: number;
  state: ChildState;
  /** The reload generation that spawned it. */
  readonly generation: number;
  readonly spawnedAt: number;
  /** When a stopping child is killed if it has not exited (the mercy). */
  killAt: number;
}

/** How one kind of child is started and spoken about. */
export interface ChildKind {
  /** As logs name it: 'worker', 'spooler'. */
  readonly noun: string;
  /** Starts the process for `slot`; the pool listens for its exit. */
  spawn(slot: number): ChildProcess;
  /** Asks a child to finish and exit (a message, or SIGTERM while it cannot read one). */
  stop(child: Child): void;
  /** Extra words after "worker 2 (pid 42)" in the spawn line ("on /var/spool"). */
  describe?(slot: number): string;
  /** An exit the child announced by its code (a recycle): the log line, respawned at once. */
  plannedExit?(child: Child, code: number | null): string | undefined;
  /** The log line of an unexpected death ("worker 2 (pid 42) died (signal SIGKILL)"). */
  deathLine?(child: Child, how: string): string;
  /** It serves once spawned: it has no IPC to say 'ready' (an attached daemon runs a shell command). */
  readonly readyOnSpawn?: boolean;
}

export interface PoolEvents {
  /** A child reported ready. */
  ready?(child: Child): void;
  /** The first child of a never-ready pool could not load the app: nothing to fall back to. */
  bootFailedFirst?(child: Child, how: string): void;
  /** Any child exited (after the pool has dealt with it). */
  exited?(child: Child): void;
}

interface Slot {
  current: Child | null;
  /** Children of an older generation still serving until `current` is ready. */
  readonly retiring: Child[];
  /** Being retired (removeSlot): its child is not replaced, and the slot goes when it exits. */
  removed: boolean;
  /** Deaths in a row that came soon after their spawn. */
  fastDeaths: number;
  /** When the slot's next child may be spawned (0: now). */
  respawnAt: number;
}

/** A child that dies this soon after its spawn counts as a fast death. */
const FAST_DEATH_MS = 1000;
/** The respawn delays after fast deaths in a row: 0, 1, 2, 4 … 30 s. */
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 30_000;

const BOOT_FAILURES: ReadonlySet<number> = new Set([EXIT.APP_LOAD_ERROR, EXIT.WORKER_BOOT_ERROR]);

export class ChildPool {
  readonly #slots = new Map<number, Slot>();
  readonly #exits: Array<{ child: Child; code: number | null; signal: NodeJS.Signals | null }> = [];
  #generation = 0;
  #stopping = false;
  #everReady = false;
  /** A chain reload: the slots still to replace, one at a time, each once the previous one's successor is ready. */
  #chain: number[] = [];

  constructor(private readonly kind: ChildKind, private readonly mercyMs: number, private readonly wake: () => void, private readonly events: PoolEvents = {}) {}

  /** Spawns one child per slot. */
  start(slots: Iterable<number>): void {
    for (const id of slots) this.addSlot(id);
  }

  /** A new slot, with its child spawned now (cheaper, the master FIFO's `+`). */
  addSlot(id: number): void {
    if (this.#slots.has(id) || this.#stopping) return;
    this.#slots.set(id, { current: null, retiring: [], fastDeaths: 0, respawnAt: 0, removed: false });
    this.#spawn(id);
  }

  /** Retires a slot: its child finishes what it serves and exits, and is not respawned. */
  removeSlot(id: number): void {
    const slot = this.#slots.get(id);
    if (slot === undefined || slot.removed) return;
    slot.removed = true;
    const child = slot.current;
    if (child === null) this.#slots.delete(id);
    else if (child.state === 'booting') this.#kill(child);
    else if (child.state === 'ready') this.#stop(child);
  }

  /** The slot numbers, in order. */
  slotIds(): number[] {
    return [...this.#slots.keys()];
  }

  get generation(): number {
    return this.#generation;
  }

  /** Every child that is not dead, of every generation. */
  children(): Child[] {
    const all: Child[] = [];
    for (const slot of this.#slots.values()) {
      if (slot.current !== null) all.push(slot.current);
      all.push(...slot.retiring);
    }
    return all;
  }

  /** The serving child of each slot. */
  current(): Child[] {
    return [...this.#slots.values()].flatMap((slot) => (slot.current === null ? [] : [slot.current]));
  }

  get alive(): number {
    return this.children().length;
  }

  /** Whether every slot's current child is ready. */
  allReady(): boolean {
    return [...this.#slots.values()].every((slot) => slot.current?.state === 'ready');
  }

  find(pid: number): Child | undefined {
    return this.children().find((child) => child.pid === pid);
  }

  #spawn(id: number): Child {
    const slot = this.#slots.get(id)!;
    const process = this.kind.spawn(id);
    const child: Child = { slot: id, process, pid: process.pid ?? 0, state: 'booting', generation: this.#generation, spawnedAt: Date.now(), killAt: 0 };
    slot.current = child;
    process.on('exit', (code, signal) => {
      this.#exits.push({ child, code, signal });
      this.wake();
    });
    const extra = this.kind.describe?.(id);
    log(`spawned ${this.kind.noun} ${id} (pid ${child.pid})${extra ? ` ${extra}` : ''}`);
    if (this.kind.readyOnSpawn) this.markReady(child.pid);
    return child;
  }

  /** The child with `pid` loaded the app and serves: its slot's older generation may stop. */
  markReady(pid: number): void {
    const child = this.find(pid);
    if (child === undefined || child.state !== 'booting') return;
    child.state = 'ready';
    this.#everReady = true;
    const slot = this.#slots.get(child.slot)!;
    if (slot.current === child) for (const old of slot.retiring) if (old.state === 'ready') this.#stop(old);
    if (this.#chain[0] === child.slot) {
      this.#chain.shift();
      this.#chainNext();
    }
    this.events.ready?.(child);
  }

  /**
   * Replaces one slot's child (a recycle): a fresh child starts and the old one serves on until
   * it is ready, then finishes its requests and exits. False if the slot has no serving child.
   */
  replace(id: number): boolean {
    const slot = this.#slots.get(id);
    const old = slot?.current;
    if (slot === undefined || old == null || old.state !== 'ready' || slot.removed || this.#stopping) return false;
    slot.retiring.push(old);
    slot.current = null;
    slot.respawnAt = 0;
    this.#spawn(id);
    return true;
  }

  /** A chain reload: the next generation replaces the children one slot at a time. */
  chainReload(): void {
    if (this.#stopping || this.#chain.length > 0) return;
    this.#generation++;
    this.#chain = this.slotIds();
    this.#chainNext();
  }

  #chainNext(): void {
    while (this.#chain.length > 0 && !this.replace(this.#chain[0]!)) this.#chain.shift(); // nothing serving there: skip it
  }

  /** Whether a chain reload is still going. */
  get chaining(): boolean {
    return this.#chain.length > 0;
  }

  /** A graceful reload: each slot gets a child of the next generation; the old one serves until it is ready. */
  reload(): void {
    if (this.#stopping) return;
    this.#generation++;
    for (const [id, slot] of this.#slots) {
      if (slot.removed) continue; // retiring (removeSlot): its child finishes and is not replaced
      const old = slot.current;
      if (old?.state === 'ready') slot.retiring.push(old);
      else if (old !== null) this.#kill(old); // still booting: the new generation replaces it
      slot.current = null;
      slot.respawnAt = 0;
      this.#spawn(id);
    }
  }

  /**
   * A brutal reload (the master FIFO's `R`/`W`): every child is killed now, requests and all, and
   * each slot is respawned with the next generation on the loop's next pass.
   */
  brutalReload(): void {
    if (this.#stopping) return;
    this.#generation++;
    this.#chain = [];
    for (const slot of this.#slots.values()) {
      for (const child of [...slot.retiring, ...(slot.current === null ? [] : [slot.current])]) this.#kill(child);
      slot.respawnAt = 0;
    }
    this.wake();
  }

  /** The slots that are not being retired, in order (what a resize counts). */
  servingSlotIds(): number[] {
    return [...this.#slots].filter(([, slot]) => !slot.removed).map(([id]) => id);
  }

  /** Graceful stop: every child finishes and exits (within the mercy), none is respawned. */
  stopGracefully(): void {
    this.#stopping = true;
    for (const child of this.children()) if (child.state !== 'stopping') this.#stop(child);
  }

  /** Kills every child now. */
  stopBrutally(): void {
    this.#stopping = true;
    for (const child of this.children()) this.#kill(child);
  }

  /** The ready children of the serving generation. */
  readyChildren(): Child[] {
    return this.current().filter((child) => child.state === 'ready');
  }

  #stop(child: Child): void {
    this.kind.stop(child); // it may ask whether the child is ready yet
    child.state = 'stopping';
    child.killAt = Date.now() + this.mercyMs;
  }

  /** Kills a child on purpose: its exit is not a death to respawn. */
  #kill(child: Child): void {
    if (child.state === 'dead') return;
    child.state = 'stopping';
    child.process.kill('SIGKILL');
  }

  /**
   * One pass of the master's loop: reap the children that exited, kill the stopping ones whose
   * mercy ran out, respawn the empty slots whose back-off has passed. Returns when it next
   * needs a pass (a pending respawn or mercy), or 0.
   */
  supervise(now: number): number {
    for (let exit = this.#exits.shift(); exit; exit = this.#exits.shift()) this.#reap(exit.child, exit.code, exit.signal);
    let next = 0;
    const sooner = (at: number) => void (next = next === 0 ? at : Math.min(next, at));
    for (const child of this.children()) {
      if (child.state !== 'stopping' || child.killAt === 0) continue;
      if (now >= child.killAt) {
        log(`${this.kind.noun} ${child.slot} (pid ${child.pid}) still running after --reload-mercy: killing it`);
        child.killAt = 0;
        child.process.kill('SIGKILL');
      } else sooner(child.killAt);
    }
    if (this.#stopping) return next;
    for (const [id, slot] of this.#slots) {
      if (slot.current !== null || slot.removed) continue;
      if (now >= slot.respawnAt) this.#spawn(id);
      else sooner(slot.respawnAt);
    }
    return next;
  }

  #reap(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
    const previous = child.state;
    child.state = 'dead';
    const slot = this.#slots.get(child.slot)!;
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    const name = `${this.kind.noun} ${child.slot} (pid ${child.pid})`;
    const retiredAt = slot.retiring.indexOf(child);
    if (retiredAt >= 0) {
      slot.retiring.splice(retiredAt, 1);
      log(this.#stopping ? `${name} stopped (${how})` : `${name} stopped (${how}): generation ${child.generation} retired`);
    } else if (slot.current !== child || previous === 'stopping' || this.#stopping || slot.removed) {
      if (slot.current === child) slot.current = null;
      if (slot.removed && slot.current === null && slot.retiring.length === 0) this.#slots.delete(child.slot);
      log(`${name} stopped (${how})`);
    } else {
      slot.current = null;
      this.#died(slot, child, previous, code, how);
    }
    this.events.exited?.(child);
  }

  /** The serving child of a slot exited without being asked to. */
  #died(slot: Slot, child: Child, previous: ChildState, code: number | null, how: string): void {
    const planned = this.kind.plannedExit?.(child, code);
    if (planned !== undefined) {
      log(planned);
      slot.respawnAt = 0;
      return;
    }
    if (previous === 'booting' && code !== null && BOOT_FAILURES.has(code)) return this.#bootFailed(slot, child, how);
    log(this.kind.deathLine?.(child, how) ?? `${this.kind.noun} ${child.slot} (pid ${child.pid}) died (${how}), respawning`);
    this.#backOff(slot, child);
  }

  /** The app did not load: never respawned in a loop, and a reload falls back to the old generation. */
  #bootFailed(slot: Slot, child: Child, how: string): void {
    if (!this.#everReady && this.events.bootFailedFirst) return this.events.bootFailedFirst(child, how);
    if (this.#abortReload(child, how)) return;
    log(`${this.kind.noun} ${child.slot} could not load the app (${how})`);
    this.#backOff(slot, child);
  }

  /** A reload whose new generation cannot load: the old children keep serving. */
  #abortReload(child: Child, how: string): boolean {
    const slots = [...this.#slots.values()];
    if (!slots.some((slot) => slot.retiring.some((old) => old.state === 'ready'))) return false;
    log(`reload aborted: ${this.kind.noun} ${child.slot} of the new generation could not load the app (${how}); the previous ${this.kind.noun}s keep serving`);
    for (const slot of slots) {
      const old = slot.retiring.find((candidate) => candidate.state === 'ready');
      if (old === undefined || slot.current?.state === 'ready') continue; // already handed over
      if (slot.current !== null) this.#kill(slot.current);
      slot.retiring.splice(slot.retiring.indexOf(old), 1);
      slot.current = old;
    }
    return true;
  }

  /** Schedules the slot's respawn: at once after a long life, then 1, 2, 4 … 30 s after fast deaths in a row. */
  #backOff(slot: Slot, child: Child): void {
    const lived = Date.now() - child.spawnedAt;
    slot.fastDeaths = lived < FAST_DEATH_MS ? slot.fastDeaths + 1 : 0;
    if (slot.fastDeaths <= 1) {
      slot.respawnAt = 0;
      return;
    }
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (slot.fastDeaths - 2));
    slot.respawnAt = Date.now() + delay;
    log(`${this.kind.noun} ${child.slot} died ${slot.fastDeaths} times in a row within ${FAST_DEATH_MS / 1000} s of its spawn: respawning in ${delay / 1000} s (no fork bomb)`);
  }
}
