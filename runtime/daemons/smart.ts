/**
 * One smart daemon (`--smart-attach-daemon PIDFILE CMD`, or attach-daemon2 with a pidfile): a
 * program that forks itself into the background and writes its pid to PIDFILE (memcached -d,
 * redis with daemonize yes). The master never sees its exit, so it is governed by the pidfile,
 * checked once a second as uWSGI does:
 *
 *   - at start the command runs only if the pid in the pidfile is not alive (an instance
 *     restarted by hand finds its memcached still running and adopts it);
 *   - when that pid dies, the command runs again (with a growing delay if it keeps dying);
 *   - a command that has not written a live pid within `freq` seconds is run again;
 *   - reloads leave it alone (a reloadsignal is sent if configured); shutdown stops it by its pid.
 *
 * With `daemonize` (smart-attach-daemon2) the command does not fork: tsgi writes the pid of the
 * shell it started to the pidfile, and the rest is the same.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { log } from '../logger.js';
import { launch, livePidIn, pidAlive, signalGroup } from './launch.js';
import type { DaemonSpec } from './spec.js';
import { TouchWatch } from './touch.js';

/** How often the pidfile is read (uWSGI's smart check runs once a second). */
const CHECK_MS = 1000;
/** While stopping, how often the pid is polled: it is not a child, no exit event comes. */
const STOP_POLL_MS = 100;
/** A daemon whose pid dies this soon after its spawn counts as failing (uWSGI throttles within 3 s). */
const FAST_DEATH_MS = 3000;
const BACKOFF_MAX_MS = 30_000;

export class SmartDaemon {
  /** The live pid read from the pidfile (0: none yet). */
  #pid = 0;
  #spawns = 0;
  #spawnedAt = 0;
  /** Spawned, and its pidfile does not name a live pid yet. */
  #waiting = false;
  #fastDeaths = 0;
  #nextCheck = 0;
  #shell: ChildProcess | null = null;
  #stopping = false;
  #killAt = 0;
  readonly #touch: TouchWatch;
  readonly #name: string;

  constructor(readonly id: number, readonly spec: DaemonSpec & { pidfile: string }, private readonly mercyMs: number) {
    this.#touch = new TouchWatch(spec.touch);
    this.#name = `daemon ${id} ${JSON.stringify(spec.cmd)}`;
  }

  start(): void {
    const pid = livePidIn(this.spec.pidfile);
    if (pid === 0) return this.#spawn();
    this.#pid = pid;
    log(`${this.#name}: found the live pid ${pid} in ${this.spec.pidfile}, not starting it again`);
  }

  #spawn(): void {
    const shell = launch(this.spec.cmd, `[daemon ${this.id}]`, { dieWithMaster: false });
    this.#shell = shell;
    this.#spawns++;
    this.#spawnedAt = Date.now();
    this.#waiting = true;
    this.#pid = 0;
    if (this.spec.daemonize && shell.pid !== undefined) writeFileSync(this.spec.pidfile, `${shell.pid}\n`);
    // The shell exits once the command has forked itself: only a failure is worth a line.
    shell.on('exit', (code) => code && !this.#stopping && log(`${this.#name}: its command exited with code ${code}`));
    log(`spawned daemon ${this.id} (shell pid ${shell.pid ?? '?'}) ${JSON.stringify(this.spec.cmd)}, tracked by ${this.spec.pidfile}`);
  }

  /** One pass of the master's loop: returns when it next wants one. */
  cycle(now: number): number {
    if (this.#stopping) return this.#stopCycle(now);
    if (now < this.#nextCheck) return this.#nextCheck;
    this.#nextCheck = now + CHECK_MS;
    const touched = this.#touch.touched();
    if (touched !== undefined && this.#pid !== 0) this.#touched(touched);
    const pid = livePidIn(this.spec.pidfile);
    if (pid !== 0) {
      if (pid !== this.#pid) log(`${this.#name} runs as pid ${pid} (${this.spec.pidfile})`);
      this.#pid = pid;
      this.#waiting = false;
    } else if (this.#pid !== 0) {
      log(`${this.#name} (pid ${this.#pid}) is gone: spawning it again`);
      this.#respawn(now);
    } else if (this.#waiting && now - this.#spawnedAt >= this.spec.freq * 1000) {
      log(`${this.#name} wrote no live pid to ${this.spec.pidfile} within ${this.spec.freq} s (freq): spawning it again`);
      this.#respawn(now);
    } else if (!this.#waiting && now >= this.#spawnedAt) this.#spawn(); // a back-off delay has passed
    return this.#nextCheck;
  }

  /** Spawns at once after a long life, with a growing delay (1, 2, 4 … 30 s) when it keeps dying soon after its spawn. */
  #respawn(now: number): void {
    this.#pid = 0;
    this.#waiting = false;
    this.#fastDeaths = now - this.#spawnedAt < FAST_DEATH_MS ? this.#fastDeaths + 1 : 0;
    if (this.#fastDeaths <= 1) return this.#spawn();
    const delay = Math.min(BACKOFF_MAX_MS, 1000 * 2 ** (this.#fastDeaths - 2));
    this.#spawnedAt = now + delay; // picked up by cycle() once due
    log(`${this.#name} died ${this.#fastDeaths} times in a row within ${FAST_DEATH_MS / 1000} s of its spawn: spawning it in ${delay / 1000} s (no fork bomb)`);
  }

  #touched(file: string): void {
    const signal = this.spec.reloadSignal ?? this.spec.stopSignal;
    log(`${this.#name} (pid ${this.#pid}): ${file} touched: sending ${signal}${this.spec.reloadSignal ? ' (reloadsignal)' : ', it is spawned again when it has gone'}`);
    signalGroup(this.#pid, signal);
  }

  /** A graceful reload of the instance: a smart daemon survives it; only a reloadsignal is passed on. */
  reload(): void {
    if (this.spec.reloadSignal === undefined || this.#pid === 0) return;
    log(`graceful reload: sending ${this.spec.reloadSignal} to ${this.#name} (pid ${this.#pid}) (reloadsignal)`);
    signalGroup(this.#pid, this.spec.reloadSignal);
  }

  /** Shutdown: the stop signal to its pid (and to the group of the shell that started it), SIGKILL after the mercy. */
  stopGracefully(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#pid = livePidIn(this.spec.pidfile) || (pidAlive(this.#pid) ? this.#pid : 0); // the pidfile may have been rewritten since the last check
    this.#killAt = Date.now() + this.mercyMs;
    this.#signalAll(this.spec.stopSignal);
    if (this.#pid !== 0) log(`stopping ${this.#name} (pid ${this.#pid}) with ${this.spec.stopSignal}`);
  }

  stopBrutally(): void {
    this.#stopping = true;
    this.#signalAll('SIGKILL');
  }

  #stopCycle(now: number): number {
    if (!this.alive()) {
      if (this.spec.daemonize) rmSync(this.spec.pidfile, { force: true }); // tsgi wrote it
      return 0;
    }
    if (now < this.#killAt) return now + STOP_POLL_MS;
    log(`${this.#name} (pid ${this.#pid}) still running after --reload-mercy: killing it`);
    this.#killAt = Number.POSITIVE_INFINITY;
    this.#signalAll('SIGKILL');
    return now + STOP_POLL_MS;
  }

  #signalAll(signal: NodeJS.Signals): void {
    if (this.#pid !== 0) signalGroup(this.#pid, signal);
    const shell = this.#shell?.pid;
    if (shell === undefined) return;
    try {
      process.kill(-shell, signal); // what the command left in the group its shell led (never the shell's pid alone: it may be reused)
    } catch {
      // that group is empty
    }
  }

  /** Whether its pid still runs (what a stopping instance waits for). */
  alive(): boolean {
    return pidAlive(this.#pid);
  }

  row(): Record<string, unknown> {
    return { cmd: this.spec.cmd, pid: this.#pid, respawns: Math.max(0, this.#spawns - 1) };
  }
}
