/**
 * A FastRouter process's sessions: it accepts on the inherited listening sockets, runs one
 * {@link Session} per connection, counts them, and on a graceful stop stops accepting and
 * waits for the sessions in flight to finish.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Options } from '../../options.js';
import type { Mapper } from './mappers.js';
import { Session, type SessionContext, type SessionCounters } from './session.js';

export class FastRouter implements SessionContext {
  readonly counters: SessionCounters = { requests: 0, noNode: 0, connectFailures: 0, timeouts: 0 };
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly fallbacks: readonly string[];
  readonly fallbackOnNoKey: boolean;
  readonly #servers: Server[] = [];
  readonly #sessions = new Set<Session>();
  #drained: (() => void) | null = null;

  constructor(options: Options, readonly mapper: Mapper) {
    this.timeoutMs = options['fastrouter-timeout'] * 1000;
    this.maxRetries = options['fastrouter-max-retries'];
    this.fallbacks = options['fastrouter-fallback'];
    this.fallbackOnNoKey = options['fastrouter-fallback-on-no-key'];
  }

  /** Accepts on an inherited listening fd (the kernel shares its connections among the router processes). */
  listen(fd: number): void {
    // allowHalfOpen: a client that sent its request and shut its side still gets the response.
    const server = createServer({ allowHalfOpen: true, noDelay: true }, this.#accept);
    server.listen({ fd });
    this.#servers.push(server);
  }

  readonly #accept = (client: Socket): void => {
    this.#sessions.add(new Session(this, client));
  };

  ended(session: Session): void {
    this.#sessions.delete(session);
    if (this.#sessions.size === 0) this.#drained?.();
  }

  get activeSessions(): number {
    return this.#sessions.size;
  }

  /** Stops accepting; resolves once every session in flight is over. */
  drain(): Promise<void> {
    for (const server of this.#servers) server.close();
    if (this.#sessions.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#drained = resolve));
  }
}
