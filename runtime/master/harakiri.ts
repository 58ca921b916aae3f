/**
 * The master's side of harakiri (semantics.md §9): a worker whose event loop is stuck (a
 * `while (true) {}` in the app, a synchronous call that never returns) cannot halt its own
 * request, so the master watches its heartbeat in the scoreboard (worker/harakiri.ts beats it
 * once a second) and, once it is older than `--harakiri`, kills the worker: with
 * `--harakiri-verbose` it first asks the worker's stack watchdog for the JavaScript stack (up
 * to a second), with `--harakiri-graceful-timeout` it sends `--harakiri-graceful-signal` and
 * waits that long, then SIGKILL. The pool respawns the slot. Spoolers get the same for
 * `--spooler-harakiri`, from the start of their oldest running task in the spooler board.
 *
 * Every step is a due time of the master's cycle, not a timer or a Promise: the loop already
 * wakes for the soonest due time, and a stuck child's fate never depends on a second scheduler
 * (which is also why abort-controller-x's delay() is not used here).
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { log } from '../logger.js';
import { createStackDir, removeStackDir, removeStackFiles, stackDir, stackFile, wantFile } from '../harakiri/stack-files.js';
import type { Child, ChildPool } from './child-pool.js';
import type { MasterHost, Subsystem } from './subsystem.js';

/** How long the master waits for a stuck child's JS stack before it kills it anyway. */
const STACK_WAIT_MS = 1000;
const STACK_POLL_MS = 50;
/**
 * The worker beats once a second (worker/harakiri.ts), so its stuck request may have started up
 * to a beat after the last one: a worker is overdue only once its beat is older than the limit
 * plus that interval, so no request is killed before it has run --harakiri seconds.
 */
const BEAT_MS = 1000;

type Noun = 'WORKER' | 'SPOOLER';

interface Victim {
  readonly noun: Noun;
  readonly child: Child;
  stage: 'stack' | 'graceful' | 'killed';
  /** When the current stage ends (ms epoch). */
  until: number;
}

export class Harakiri implements Subsystem {
  readonly name = 'harakiri';
  #host!: MasterHost;
  #workerLimitMs = 0;
  #spoolerLimitMs = 0;
  #graceMs = 0;
  #graceSignal: NodeJS.Signals = 'SIGTERM';
  /** The directory stacks are exchanged in, or '' without --harakiri-verbose. */
  #stackDir = '';
  readonly #victims = new Map<number, Victim>();

  start(host: MasterHost): void {
    this.#host = host;
    const { options } = host;
    // Without a master the in-process worker's loop is the loop that would watch: only the
    // per-request sweep (worker/harakiri.ts) works there.
    if (!host.supervised) return;
    this.#workerLimitMs = options.harakiri * 1000;
    this.#spoolerLimitMs = options['spooler-harakiri'] * 1000;
    this.#graceMs = options['harakiri-graceful-timeout'] * 1000;
    this.#graceSignal = options['harakiri-graceful-signal'] as NodeJS.Signals;
    if (options['harakiri-verbose'] && (this.#workerLimitMs > 0 || this.#spoolerLimitMs > 0)) {
      this.#stackDir = stackDir(process.pid);
      createStackDir(this.#stackDir); // before the first child spawns: this subsystem starts first
    }
  }

  cycle(now: number): number | void {
    let next = 0;
    const sooner = (at: number) => void (at > 0 && (next = next === 0 ? at : Math.min(next, at)));
    if (this.#workerLimitMs > 0) for (const child of this.#pool('workers')) sooner(this.#checkWorker(child, now));
    if (this.#spoolerLimitMs > 0) for (const child of this.#pool('spoolers')) sooner(this.#checkSpooler(child, now));
    for (const victim of this.#victims.values()) sooner(this.#advance(victim, now));
    return next || undefined;
  }

  #pool(name: string): Child[] {
    return this.#host.subsystem<{ children?: ChildPool } & Subsystem>(name)?.children?.children() ?? [];
  }

  /** Returns when the worker would be overdue if its loop stopped now (0: nothing to watch). */
  #checkWorker(child: Child, now: number): number {
    const board = this.#host.shared.scoreboard;
    // During a reload a slot's old child no longer owns its scoreboard slot: the mercy ends it.
    if (!this.#watchable(child) || board.pid(child.slot) !== child.pid) return 0;
    const beat = board.heartbeat(child.slot);
    if (beat === 0) return 0;
    const overdueAt = beat + BEAT_MS + this.#workerLimitMs;
    if (now <= overdueAt) return overdueAt + 1;
    board.countHarakiri(child.slot);
    this.#begin('WORKER', child, `its event loop has not run for ${seconds(now - beat)} s (--harakiri ${this.#workerLimitMs / 1000})`, now);
    return 0;
  }

  #checkSpooler(child: Child, now: number): number {
    const board = this.#host.shared.spoolers;
    if (board === null || !this.#watchable(child) || board.pid(child.slot) !== child.pid) return 0;
    const since = board.oldestTask(child.slot);
    if (since === 0) return 0;
    // Whole seconds: counted from the end of the start's second, so a task is never cut short.
    const startedAt = (since + 1) * 1000;
    if (now - startedAt <= this.#spoolerLimitMs) return startedAt + this.#spoolerLimitMs + 1;
    board.countHarakiri(child.slot);
    this.#begin('SPOOLER', child, `a task has run for more than ${this.#spoolerLimitMs / 1000} s (--spooler-harakiri); it stays queued and runs again`, now);
    return 0;
  }

  #watchable(child: Child): boolean {
    return (child.state === 'ready' || child.state === 'stopping') && !this.#victims.has(child.pid);
  }

  #begin(noun: Noun, child: Child, why: string, now: number): void {
    const victim: Victim = { noun, child, stage: 'stack', until: now + STACK_WAIT_MS };
    this.#victims.set(child.pid, victim);
    const kill = this.#graceMs > 0 ? `${this.#graceSignal}, then SIGKILL after ${this.#graceMs / 1000} s` : 'SIGKILL';
    log(`HARAKIRI ON ${noun} ${child.slot} (pid ${child.pid}): ${why}: ${this.#stackDir ? 'taking its JS stack, then ' : ''}${kill}`);
    if (this.#stackDir === '') return this.#signal(victim, now);
    try {
      appendFileSync(wantFile(this.#stackDir, child.pid), '.');
    } catch (error) {
      log(`HARAKIRI ON ${noun} ${child.slot} (pid ${child.pid}): no JS stack (its watchdog is not there: ${(error as NodeJS.ErrnoException).code})`);
      this.#signal(victim, now);
    }
  }

  /** Moves a victim on when its stage is over; returns when to look again (0: nothing left to do). */
  #advance(victim: Victim, now: number): number {
    if (victim.stage === 'stack') {
      const file = stackFile(this.#stackDir, victim.child.pid);
      if (existsSync(file)) this.#logStack(victim, readFileSync(file, 'utf8'));
      else if (now < victim.until) return now + STACK_POLL_MS;
      else this.#logStack(victim, `no JS stack within ${STACK_WAIT_MS / 1000} s`);
      this.#signal(victim, now);
    }
    if (victim.stage === 'graceful') {
      if (now < victim.until) return victim.until;
      log(`HARAKIRI ON ${victim.noun} ${victim.child.slot} (pid ${victim.child.pid}): still there after --harakiri-graceful-timeout: SIGKILL`);
      this.#kill(victim, 'SIGKILL');
    }
    return 0;
  }

  #logStack(victim: Victim, stack: string): void {
    log(`HARAKIRI ON ${victim.noun} ${victim.child.slot} (pid ${victim.child.pid}) was running: ${stack}`);
  }

  #signal(victim: Victim, now: number): void {
    if (this.#graceMs === 0) return this.#kill(victim, 'SIGKILL');
    victim.until = now + this.#graceMs;
    this.#kill(victim, this.#graceSignal);
    victim.stage = 'graceful';
  }

  #kill(victim: Victim, signal: NodeJS.Signals): void {
    victim.stage = 'killed';
    victim.child.process.kill(signal);
  }

  childExited(pid: number): void {
    this.#victims.delete(pid);
    if (this.#stackDir) removeStackFiles(this.#stackDir, pid);
  }

  close(): void {
    if (this.#stackDir) removeStackDir(this.#stackDir);
  }
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
