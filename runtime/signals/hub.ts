/**
 * The master's side of uWSGI signals: one table of 256 signals, routing to worker targets, and
 * the event sources that raise them (timers, rb timers, cron, file monitors).
 *
 * Every worker imports the app, so a registration at the top of an app module arrives once per
 * worker. uWSGI registers in the master before forking; tsgi gets the same effect by keeping
 * the first registration of a number as the table entry and de-duplicating event sources, and
 * it remembers which workers hold a handler, so a handler only one worker registered is still
 * reached.
 */
import { spawn } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import type { ChildActs, Outgoing } from '../ipc.js';
import { log } from '../logger.js';
import { cronMatches, type CronFields } from './cron.js';

/** A worker as the hub sees it: an id, whether it serves, and how to hand it a signal. */
export interface SignalPeer {
  id: number;
  pid: number;
  ready: boolean;
  deliver(num: number): void;
}

/** The IPC acts the hub serves. */
export type SignalRequest = Outgoing<ChildActs, 'register-signal' | 'raise-signal' | 'add-timer' | 'add-cron' | 'add-file-monitor'>;

/** Targets as uWSGI spells them (uWSGI's `core/signal.c`). */
const WORKER_N = /^worker(\d+)$/;

export class SignalHub {
  readonly #targets = new Map<number, string>();
  /** Which worker pids registered a handler for each signal. */
  readonly #holders = new Map<number, Set<number>>();
  readonly #sources = new Set<string>();
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #watchers: FSWatcher[] = [];
  readonly #crons: Array<{ fields: CronFields; fire: () => void; lastMinute: number }> = [];
  #next = 0;

  /** `peers`: the workers; `spoolers`: the spooler processes (target 'spooler'). */
  constructor(private readonly peers: () => SignalPeer[], private readonly spoolers: () => SignalPeer[] = () => []) {}

  /** A message from worker `pid` (or from the single process itself). */
  handle(pid: number, request: SignalRequest): void {
    switch (request.act) {
      case 'register-signal':
        return this.#register(pid, request.num, request.target);
      case 'raise-signal':
        return this.raise(request.num);
      case 'add-timer':
        return this.#addTimer(request.num, request.seconds, request.iterations, request.kind);
      case 'add-cron':
        return this.#addCron(request.num, request.fields);
      case 'add-file-monitor':
        return this.#addFileMonitor(request.num, request.path);
    }
  }

  #register(pid: number, num: number, target: string): void {
    if (!this.#targets.has(num)) this.#targets.set(num, target);
    let holders = this.#holders.get(num);
    if (!holders) this.#holders.set(num, (holders = new Set()));
    holders.add(pid);
  }

  /** A worker exited: it holds no handlers any more. */
  forget(pid: number): void {
    for (const holders of this.#holders.values()) holders.delete(pid);
  }

  /** Routes signal `num` by the master's table. */
  raise(num: number): void {
    const target = this.#targets.get(num);
    if (target === undefined) return log(`signal ${num} has no handler registered: dropped`);
    const ready = this.peers().filter((peer) => peer.ready);
    // "The first available worker": round-robin over the workers holding a handler.
    if (target === '' || target === 'worker' || target === 'worker0') return this.#toOneHolder(num, ready, 'worker');
    if (target === 'workers' || target === 'active-workers') return ready.forEach((peer) => peer.deliver(num));
    const numbered = WORKER_N.exec(target);
    if (numbered) {
      const peer = ready.find((p) => p.id === Number(numbered[1]));
      return peer ? peer.deliver(num) : log(`signal ${num}: worker${numbered[1]} is not running: dropped`);
    }
    if (target === 'subscribed') return;
    // uWSGI's shared spooler pipe: one spooler process gets it.
    if (target === 'spooler') return this.#toOneHolder(num, this.spoolers().filter((peer) => peer.ready), 'spooler');
    log(`signal ${num}: UNSUPPORTED SIGNAL TARGET ${JSON.stringify(target)}: dropped`);
  }

  /** Delivers `num` to one of the `ready` peers that registered a handler, in turn. */
  #toOneHolder(num: number, ready: SignalPeer[], kind: 'worker' | 'spooler'): void {
    const holders = this.#holders.get(num)!;
    const candidates = ready.filter((peer) => holders.has(peer.pid));
    if (candidates.length === 0) return log(`signal ${num}: no running ${kind} has a handler${kind === 'spooler' ? ' (is --spooler set?)' : ''}: dropped`);
    candidates[this.#next++ % candidates.length]!.deliver(num);
  }

  #addTimer(num: number, seconds: number, iterations: number, kind: 'timer' | 'rb'): void {
    if (!this.#claim(`${kind}:${num}:${seconds}:${iterations}`)) return;
    let fired = 0;
    const timer = setInterval(() => {
      this.raise(num);
      if (iterations > 0 && ++fired >= iterations) clearInterval(timer);
    }, seconds * 1000);
    this.#timers.push(timer);
  }

  #addCron(num: number, fields: CronFields): void {
    if (this.#claim(`cron:${num}:${fields.join(' ')}`)) this.#schedule(fields, () => this.raise(num));
  }

  /** `--cron "min hour day month weekday command"`: the master runs the command in a shell. */
  addCommandCron(fields: CronFields, command: string): void {
    this.#schedule(fields, () => {
      log(`cron: running ${command}`);
      spawn('/bin/sh', ['-c', command], { stdio: 'inherit' }).on('exit', (code) => code && log(`cron: ${command} exited with ${code}`));
    });
  }

  #schedule(fields: CronFields, fire: () => void): void {
    this.#crons.push({ fields, fire, lastMinute: -1 });
  }

  /** Fires the cron entries whose time is now: the master's loop calls it every pass (a second at most apart). */
  checkCrons(now: Date): void {
    const minute = Math.floor(now.getTime() / 60_000);
    for (const cron of this.#crons) {
      if (cron.lastMinute === minute || !cronMatches(cron.fields, now)) continue;
      cron.lastMinute = minute; // at most once a minute, as uWSGI
      cron.fire();
    }
  }

  #addFileMonitor(num: number, path: string): void {
    if (!this.#claim(`file:${num}:${path}`)) return;
    try {
      this.#watchers.push(watch(path, () => this.raise(num)));
    } catch (error) {
      log(`add_file_monitor(${num}, ${path}): ${(error as Error).message}`);
    }
  }

  /** True the first time a source key is seen: the same timer from N workers runs once. */
  #claim(key: string): boolean {
    if (this.#sources.has(key)) return false;
    this.#sources.add(key);
    return true;
  }

  /** Stops every event source (shutdown). */
  close(): void {
    for (const timer of this.#timers) clearInterval(timer);
    for (const watcher of this.#watchers) watcher.close();
  }
}
