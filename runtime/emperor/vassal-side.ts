/**
 * The vassal's side of the pipe protocol, in the tsgi master (or single process) that an
 * Emperor — tsgi's or uWSGI's — started with `UWSGI_EMPEROR_FD`: it says "ready" (1) once every
 * worker of the current generation serves (again after each reload, so the Emperor's reload is
 * ready-gated), "accepting" (5) the first time, "loyal" (17) after the first served request,
 * "heartbeat" (26) every --heartbeat seconds; it obeys stop (0), reload (1) and graceful stop
 * (2); and when the pipe closes (the Emperor died) it shuts itself down.
 */
import { Socket } from 'node:net';
import { log } from '../logger.js';
import type { ChildPool } from '../master/child-pool.js';
import type { MasterHost, Subsystem } from '../master/subsystem.js';
import { byte, EMPEROR_FD_ENV, TO_EMPEROR, TO_VASSAL } from './protocol.js';

export class EmperorPipe implements Subsystem {
  readonly name = 'emperor-pipe';
  #pipe: Socket | null = null;
  #host!: MasterHost;
  #loyal = false;
  #accepting = false;
  /** The worker generation last announced ready (-1: none yet). */
  #announced = -1;
  #nextHeartbeat = 0;

  start(host: MasterHost): void {
    const fd = Number(process.env[EMPEROR_FD_ENV]);
    // Workers and apps are not vassals: they must not find the variable.
    delete process.env[EMPEROR_FD_ENV];
    if (!Number.isInteger(fd) || fd < 0) return;
    this.#host = host;
    const pipe = new Socket({ fd, readable: true, writable: true });
    pipe.on('data', (chunk: Buffer) => {
      for (const value of chunk) this.#obey(value);
    });
    pipe.on('error', () => {}); // read errors end the stream too
    pipe.on('close', () => this.#lost());
    this.#pipe = pipe;
    log(`vassal of the Emperor on fd ${fd}`);
  }

  cycle(now: number): number | void {
    if (this.#pipe === null) return;
    const workers = this.#host.subsystem('workers')?.children as ChildPool | undefined;
    const generation = workers?.generation ?? 0;
    const ready = workers === undefined || workers.allReady();
    if (ready && generation !== this.#announced) {
      this.#announced = generation;
      this.#send(TO_EMPEROR.READY);
      if (!this.#accepting) {
        this.#accepting = true;
        this.#send(TO_EMPEROR.ACCEPTING);
      }
    }
    if (!this.#loyal && this.#host.shared.scoreboard.readAll().some((worker) => worker.requests > 0)) {
      this.#loyal = true;
      this.#send(TO_EMPEROR.LOYAL);
    }
    const every = this.#host.options.heartbeat * 1000;
    if (every === 0) return;
    if (now >= this.#nextHeartbeat) {
      this.#send(TO_EMPEROR.HEARTBEAT);
      this.#nextHeartbeat = now + every;
    }
    return this.#nextHeartbeat;
  }

  #send(value: number): void {
    if (this.#pipe?.writable) this.#pipe.write(byte(value));
  }

  #obey(value: number): void {
    switch (value) {
      case TO_VASSAL.STOP:
        return this.#host.shutdown('the Emperor said stop', 0, true);
      case TO_VASSAL.RELOAD:
        if (!this.#host.supervised) return this.#host.shutdown('the Emperor said reload (a single process reloads by being respawned)', 0);
        log('the Emperor said reload: graceful reload');
        return this.#host.reload('graceful');
      case TO_VASSAL.GRACEFUL_STOP:
        return this.#host.shutdown('the Emperor said stop gracefully', 0);
      default:
        log(`the Emperor sent unknown byte ${value}: ignored`);
    }
  }

  #lost(): void {
    this.#pipe = null;
    // As uWSGI's master (kill_them_all): an Emperor that is gone cannot stop us later.
    this.#host.shutdown('lost connection with my emperor', 0, true);
  }

  close(): void {
    this.#pipe?.removeAllListeners('close');
    this.#pipe?.destroy();
  }
}
