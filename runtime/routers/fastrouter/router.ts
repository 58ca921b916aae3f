/**
 * A FastRouter process's sessions: a {@link ConnServer} per inherited listening socket accepts
 * and reads the clients and, adopted, the node connections, all in C (a net.Socket per
 * connection would cost more than the small request it carries); one {@link Session} per
 * client, found by either of its fds; one sweep a second for --fastrouter-timeout instead of a
 * timer per session; on a graceful stop: stop accepting, wait for the sessions in flight.
 */
import { ConnServer } from '../../native.js';
import type { Options } from '../../options.js';
import type { Mapper } from './mappers.js';
import { Session, type SessionContext, type SessionCounters } from './session.js';

const SWEEP_MS = 1000;

export class FastRouter implements SessionContext {
  readonly counters: SessionCounters = { requests: 0, noNode: 0, connectFailures: 0, timeouts: 0 };
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly fallbacks: readonly string[];
  readonly fallbackOnNoKey: boolean;
  tick = 0;
  readonly #servers: ConnServer[] = [];
  /** By fd, client's and node's: fds are unique in the process, whichever server holds them. */
  readonly #byFd = new Map<number, Session>();
  readonly #sessions = new Set<Session>();
  #drained: (() => void) | null = null;
  readonly #sweepMs: number;

  constructor(options: Options, readonly mapper: Mapper) {
    this.timeoutMs = options['fastrouter-timeout'] * 1000;
    this.maxRetries = options['fastrouter-max-retries'];
    this.fallbacks = options['fastrouter-fallback'];
    this.fallbackOnNoKey = options['fastrouter-fallback-on-no-key'];
    this.#sweepMs = Math.min(SWEEP_MS, this.timeoutMs / 2);
    setInterval(() => this.#sweep(), this.#sweepMs).unref();
  }

  /** Accepts on an inherited listening fd (the kernel shares its connections among the router processes). */
  listen(fd: number): void {
    const byFd = this.#byFd;
    const server: ConnServer = new ConnServer(fd, (conn, chunk) => {
      let session = byFd.get(conn);
      if (session === undefined) {
        if (chunk === null) return;
        session = new Session(this, server, conn);
        byFd.set(conn, session);
        this.#sessions.add(session);
      }
      session.data(conn, chunk);
    }, (conn) => byFd.get(conn)?.drained(conn));
    server.start();
    this.#servers.push(server);
  }

  claim(fd: number, session: Session): void {
    this.#byFd.set(fd, session);
  }

  release(fd: number): void {
    this.#byFd.delete(fd);
  }

  ended(session: Session): void {
    this.#sessions.delete(session);
    if (this.#sessions.size === 0) this.#drained?.();
  }

  get activeSessions(): number {
    return this.#sessions.size;
  }

  #sweep(): void {
    this.tick += this.#sweepMs;
    for (const session of this.#sessions) if (this.tick - session.lastActive >= this.timeoutMs) session.timedOut();
  }

  /** Stops accepting; resolves once every session in flight is over. */
  drain(): Promise<void> {
    for (const server of this.#servers) server.close();
    if (this.#sessions.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#drained = resolve));
  }
}
