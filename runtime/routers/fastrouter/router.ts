/**
 * A FastRouter process's sessions: a {@link ConnServer} per inherited listening socket accepts
 * and reads the clients in C (a net.Socket per client would cost more than the small request
 * it carries), one {@link Session} per connection keyed by its fd, one sweep a second for
 * --fastrouter-timeout instead of a timer per session, and on a graceful stop: stop accepting,
 * wait for the sessions in flight.
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
  /** By client fd: fds are unique in the process, whichever server accepted them. */
  readonly #sessions = new Map<number, Session>();
  #drained: (() => void) | null = null;
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: Options, readonly mapper: Mapper) {
    this.timeoutMs = options['fastrouter-timeout'] * 1000;
    this.maxRetries = options['fastrouter-max-retries'];
    this.fallbacks = options['fastrouter-fallback'];
    this.fallbackOnNoKey = options['fastrouter-fallback-on-no-key'];
    this.#sweeper = setInterval(() => this.#sweep(), Math.min(SWEEP_MS, this.timeoutMs / 2));
    this.#sweeper.unref();
  }

  /** Accepts on an inherited listening fd (the kernel shares its connections among the router processes). */
  listen(fd: number): void {
    const sessions = this.#sessions;
    const server: ConnServer = new ConnServer(fd, (client, chunk) => {
      let session = sessions.get(client);
      if (session === undefined) {
        if (chunk === null) return;
        sessions.set(client, (session = new Session(this, server, client)));
      }
      session.fromClient(chunk);
    }, (client) => sessions.get(client)?.clientDrained());
    server.start();
    this.#servers.push(server);
  }

  ended(session: Session): void {
    this.#sessions.delete(session.fd);
    if (this.#sessions.size === 0) this.#drained?.();
  }

  get activeSessions(): number {
    return this.#sessions.size;
  }

  #sweep(): void {
    this.tick += Math.min(SWEEP_MS, this.timeoutMs / 2);
    for (const session of this.#sessions.values()) if (this.tick - session.lastActive >= this.timeoutMs) session.timedOut();
  }

  /** Stops accepting; resolves once every session in flight is over. */
  drain(): Promise<void> {
    for (const server of this.#servers) server.close();
    if (this.#sessions.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#drained = resolve));
  }
}
