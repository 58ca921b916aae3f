/**
 * One FastRouter session: a client connection (nginx's `uwsgi_pass`), read up to the end of
 * its vars block, then spliced to a node. The header and vars go out with bytes 0 and 3
 * replaced by the node's modifier1/modifier2 (spec §3); everything after them, both ways, is
 * piped unchanged with backpressure, never buffered whole. A node that does not connect is
 * reported to the mapper (which marks it dead or skips it) and the key is mapped again, up to
 * --fastrouter-max-retries times, then the --fastrouter-fallback nodes are tried in order.
 */
import type { Socket } from 'node:net';
import { log } from '../../logger.js';
import { connectNode } from './connect.js';
import { routingKey } from './head.js';
import type { Mapper, Target } from './mappers.js';

/** What every session of one router process shares. */
export interface SessionContext {
  readonly mapper: Mapper;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly fallbacks: readonly string[];
  readonly fallbackOnNoKey: boolean;
  readonly counters: SessionCounters;
  /** The session closed (the router counts and drains). */
  ended(session: Session): void;
}

export interface SessionCounters {
  requests: number;
  noNode: number;
  connectFailures: number;
  timeouts: number;
}

export class Session {
  #chunks: Buffer[] = [];
  #have = 0;
  #head: Buffer | null = null;
  #key = '';
  #backend: Socket | null = null;
  #target: Target | null = null;
  #connected = false;
  #retries = 0;
  #fallback = 0;
  #closed = false;

  constructor(private readonly context: SessionContext, private readonly client: Socket) {
    client.setTimeout(context.timeoutMs);
    client.on('data', this.#onHead);
    client.on('error', this.#close);
    client.on('close', this.#close);
    client.on('timeout', this.#onTimeout);
  }

  /** Collects the header and the whole vars block (any size ≤ 65535), then routes. */
  readonly #onHead = (chunk: Buffer): void => {
    this.#chunks.push(chunk);
    this.#have += chunk.length;
    if (this.#have < 4) return;
    const first = this.#chunks.length === 1 ? chunk : Buffer.concat(this.#chunks, this.#have);
    this.#chunks = [first];
    const size = first.readUInt16LE(1);
    if (this.#have < 4 + size) return;
    this.client.off('data', this.#onHead);
    this.client.pause();
    this.#chunks = [];
    const key = routingKey(first, size);
    if (key === null) return this.#give(`a malformed uwsgi vars block: connection closed`);
    this.#head = first; // the head and whatever part of the body came with it
    this.#key = key;
    this.context.counters.requests++;
    this.#route();
  };

  #route(): void {
    const { context } = this;
    const target = this.#key === '' ? null : context.mapper.map(this.#key, Date.now());
    if (target !== null) return this.#connect(target);
    if (context.fallbackOnNoKey && context.fallbacks.length > 0) return this.#tryFallback();
    context.counters.noNode++;
    this.#give(this.#key === '' ? 'a request with no UWSGI_FASTROUTER_KEY, HTTP_HOST or SERVER_NAME: connection closed' : `no node for key "${this.#key}" (${context.mapper.name}): connection closed`);
  }

  #tryFallback(): void {
    const address = this.context.fallbacks[this.#fallback++];
    if (address === undefined) return this.#give(`key "${this.#key}": no node and no fallback could be connected: connection closed`);
    this.#connect({ address, modifier1: 0, modifier2: 0, node: null });
  }

  #connect(target: Target): void {
    this.#target = target;
    let backend: Socket;
    try {
      backend = connectNode(target.address);
    } catch (error) {
      return this.#connectFailed(target, (error as NodeJS.ErrnoException).code ?? (error as Error).message);
    }
    this.#backend = backend;
    backend.setTimeout(this.context.timeoutMs);
    backend.once('connect', this.#onConnected);
    backend.on('error', this.#onBackendError);
    backend.on('timeout', this.#onTimeout);
    backend.on('close', this.#onBackendClose);
  }

  readonly #onConnected = (): void => {
    if (this.#closed) return;
    this.#connected = true;
    const head = this.#head!;
    head[0] = this.#target!.modifier1;
    head[3] = this.#target!.modifier2;
    this.#head = null;
    const backend = this.#backend!;
    backend.write(head);
    // The client's FIN is not passed on: a node may take it for a client gone and drop the
    // response (uWSGI's routers never half-close a node either). The node's end ends the client.
    this.client.pipe(backend, { end: false });
    backend.pipe(this.client);
  };

  readonly #onBackendError = (error: NodeJS.ErrnoException): void => {
    if (this.#connected) return this.#close();
    this.#connectFailed(this.#target!, error.code ?? error.message);
  };

  readonly #onBackendClose = (): void => {
    if (this.#connected) this.#close();
  };

  #connectFailed(target: Target, why: string): void {
    const { context } = this;
    context.counters.connectFailures++;
    this.#detachBackend();
    context.mapper.failed(target, Date.now());
    context.mapper.done(target);
    this.#target = null;
    if (this.#closed) return;
    const isFallback = target.node === null && this.#fallback > 0;
    if (!isFallback && this.#retries < context.maxRetries) {
      this.#retries++;
      log(`node ${target.address} for key "${this.#key}" did not connect (${why}): marked failed, retry ${this.#retries} of ${context.maxRetries}`);
      return this.#route();
    }
    log(`node ${target.address} for key "${this.#key}" did not connect (${why})${context.fallbacks.length > this.#fallback ? ': trying a fallback' : ''}`);
    this.#tryFallback();
  }

  #detachBackend(): void {
    const backend = this.#backend;
    if (backend === null) return;
    this.#backend = null;
    backend.off('connect', this.#onConnected);
    backend.off('close', this.#onBackendClose);
    backend.off('timeout', this.#onTimeout);
    backend.destroy();
  }

  readonly #onTimeout = (): void => {
    this.context.counters.timeouts++;
    if (!this.#connected && this.#backend !== null && this.#target !== null) return this.#connectFailed(this.#target, 'timed out');
    this.#give(`key "${this.#key}": no traffic for --fastrouter-timeout ${this.context.timeoutMs / 1000} s: session closed`);
  };

  /** Ends the session with one log line. */
  #give(why: string): void {
    log(why);
    this.#close();
  }

  readonly #close = (): void => {
    if (this.#closed) return;
    this.#closed = true;
    this.client.destroy();
    const backend = this.#backend;
    this.#backend = null;
    backend?.destroy();
    if (this.#target !== null) this.context.mapper.done(this.#target);
    this.context.ended(this);
  };
}
