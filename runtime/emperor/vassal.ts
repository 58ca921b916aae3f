/**
 * One running vassal as the Emperor sees it: its process, its end of the pipe and what the
 * vassal said on it (loyal, ready, accepting, heartbeats). The lifecycle around it (spawn,
 * reload, stop, curse, respawn) is the table's (vassals.ts).
 */
import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { log } from '../logger.js';
import type { VassalFile } from './monitor.js';
import { byte, TO_EMPEROR } from './protocol.js';

export interface VassalEvents {
  loyal(vassal: Vassal): void;
  stopMe(vassal: Vassal): void;
  exited(vassal: Vassal, code: number | null, signal: NodeJS.Signals | null): void;
}

export class Vassal {
  readonly name: string;
  readonly pid: number;
  readonly bornAt = Date.now();
  loyal = false;
  ready = false;
  accepting = false;
  lastLoyal = 0;
  lastReady = 0;
  lastAccepting = 0;
  /** When the vassal last said it is alive (0: it never has, so it is not required to). */
  lastHeartbeat = 0;
  /** Asked to stop (or its pipe closed): killed if still alive after --emperor-curse-tolerance. */
  cursedAt = 0;
  /** Stopping on purpose: its exit is not a death to respawn. */
  stopping = false;
  /** A reload was asked and the vassal has not said it is ready since. */
  reloading = false;
  exited = false;
  readonly #pipe: Socket;

  constructor(readonly file: VassalFile, readonly process: ChildProcess, private readonly events: VassalEvents) {
    this.name = file.name;
    this.pid = process.pid ?? 0;
    this.#pipe = process.stdio[3] as Socket;
    this.#pipe.on('data', (chunk: Buffer) => {
      for (const value of chunk) this.#heard(value);
    });
    this.#pipe.on('error', () => {}); // a vassal gone mid-write: its exit says the rest
    this.#pipe.on('end', () => this.#pipeClosed());
    process.on('exit', (code, signal) => {
      this.exited = true;
      setImmediate(() => this.#pipe.destroy()); // bytes written just before the exit are read first
      events.exited(this, code, signal);
    });
  }

  get label(): string {
    return `vassal ${this.name} (pid ${this.pid})`;
  }

  /** Sends one byte of the protocol; false when the pipe is gone. */
  send(value: number): boolean {
    if (this.#pipe.destroyed || !this.#pipe.writable) return false;
    this.#pipe.write(byte(value));
    return true;
  }

  curse(now: number): void {
    if (this.cursedAt === 0) this.cursedAt = now;
  }

  kill(): void {
    if (!this.exited) this.process.kill('SIGKILL');
  }

  #heard(value: number): void {
    const now = Date.now();
    switch (value) {
      case TO_EMPEROR.LOYAL:
        if (this.loyal) return;
        this.loyal = true;
        this.lastLoyal = now;
        log(`${this.label} is now loyal`);
        return this.events.loyal(this);
      case TO_EMPEROR.READY:
        this.ready = true;
        this.lastReady = now;
        log(this.reloading ? `${this.label} reloaded: ready again` : `${this.label} has been spawned: ready`);
        this.reloading = false;
        return;
      case TO_EMPEROR.ACCEPTING:
        this.accepting = true;
        this.lastAccepting = now;
        return;
      case TO_EMPEROR.HEARTBEAT:
        this.lastHeartbeat = now;
        return;
      case TO_EMPEROR.STOP_ME:
        log(`${this.label} asks to be stopped`);
        return this.events.stopMe(this);
      case TO_EMPEROR.REINFORCEMENTS:
        return log(`${this.label} asks for reinforcements: tsgi has no broodlord mode, ignored`);
      case TO_EMPEROR.CONFIG:
        return log(`${this.label} asks for its config over the config pipe: tsgi vassals read their files, ignored`);
      default:
        return log(`${this.label} sent unknown byte ${value} on its pipe: ignored`);
    }
  }

  /** uWSGI curses a vassal whose pipe closes: it exits by itself soon, or is killed. */
  #pipeClosed(): void {
    if (this.exited || this.stopping) return;
    log(`${this.label} closed its pipe: cursed, killed in --emperor-curse-tolerance unless it exits`);
    this.curse(Date.now());
  }
}
