/**
 * One FastRouter session: a client connection (nginx's `uwsgi_pass`, accepted by the router's
 * {@link ConnServer}), read up to the end of its vars block, then spliced to a node. The header
 * and vars go out with bytes 0 and 3 replaced by the node's modifier1/modifier2 (spec §3);
 * everything after them, both ways, is passed on chunk by chunk with backpressure (a full side
 * pauses the other), never buffered whole. A node that does not connect is reported to the
 * mapper (which marks it dead or skips it) and the key is mapped again, up to
 * --fastrouter-max-retries times, then the --fastrouter-fallback nodes are tried in order.
 */
import type { Socket } from 'node:net';
import { log } from '../../logger.js';
import type { ConnServer } from '../../native.js';
import { connectNode } from './connect.js';
import { readHead } from './head.js';
import type { Mapper, Target } from './mappers.js';

/** What every session of one router process shares. */
export interface SessionContext {
  readonly mapper: Mapper;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly fallbacks: readonly string[];
  readonly fallbackOnNoKey: boolean;
  readonly counters: SessionCounters;
  /** A coarse clock (the router's sweep tick, in ms) for inactivity. */
  readonly tick: number;
  /** The session closed (the router forgets it and drains). */
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
  /** Body bytes the client still owes after what came with the head; reading pauses at 0. */
  #bodyLeft = 0;
  #backend: Socket | null = null;
  #target: Target | null = null;
  #connected = false;
  #retries = 0;
  #fallback = 0;
  #closed = false;
  /** The ConnServer reported the client gone and forgot its fd. */
  #clientGone = false;
  /** {@link SessionContext.tick} of the last traffic. */
  lastActive: number;

  constructor(private readonly context: SessionContext, private readonly server: ConnServer, readonly fd: number) {
    this.lastActive = context.tick;
  }

  /** What the ConnServer read from the client (null: it is gone). */
  fromClient(chunk: Buffer | null): void {
    if (chunk === null) {
      this.#clientGone = true;
      return this.close();
    }
    this.lastActive = this.context.tick;
    if (this.#connected) return this.#toBackend(chunk);
    if (chunk.length === 0) return;
    if (this.#head !== null) { // body bytes while the node is being connected
      this.#head = Buffer.concat([this.#head, chunk]);
      this.#bodyLeft -= chunk.length;
      if (this.#bodyLeft <= 0) this.server.pauseReading(this.fd);
      return;
    }
    this.#collectHead(chunk);
  }

  /** The client took everything queued: the node may send again. */
  clientDrained(): void {
    this.#backend?.resume();
  }

  /** Collects the header and the whole vars block (any size ≤ 65535), then routes. */
  #collectHead(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#have += chunk.length;
    if (this.#have < 4) return;
    const first = this.#chunks.length === 1 ? chunk : Buffer.concat(this.#chunks, this.#have);
    this.#chunks = [first];
    const size = first.readUInt16LE(1);
    if (this.#have < 4 + size) return;
    this.#chunks = [];
    const head = readHead(first, size);
    if (head === null) return this.#give('a malformed uwsgi vars block: connection closed');
    this.#head = first; // the head and whatever part of the body came with it
    this.#key = head.key;
    this.#bodyLeft = head.contentLength - (first.length - 4 - size);
    // A client that shuts its side after the body must not read as gone before the response.
    if (this.#bodyLeft <= 0) this.server.pauseReading(this.fd);
    this.context.counters.requests++;
    this.#route();
  }

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
    backend.once('connect', this.#onConnected);
    backend.on('error', this.#onBackendError);
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
    backend.on('data', this.#fromBackend);
    backend.on('drain', this.#backendDrained);
    backend.on('end', this.#onBackendEnd);
    this.#toBackend(head, false);
  };

  #toBackend(chunk: Buffer, counted = true): void {
    if (counted) {
      this.#bodyLeft -= chunk.length;
      if (this.#bodyLeft <= 0) this.server.pauseReading(this.fd);
    }
    if (!this.#backend!.write(chunk)) this.server.pauseReading(this.fd);
  }

  readonly #backendDrained = (): void => {
    if (!this.#closed && this.#bodyLeft > 0) this.server.resumeReading(this.fd);
  };

  readonly #fromBackend = (chunk: Buffer): void => {
    if (this.#closed) return;
    this.lastActive = this.context.tick;
    if (!this.server.write(this.fd, chunk)) this.#backend?.pause();
  };

  /** The node finished its response: the client gets EOF once it is all sent. */
  readonly #onBackendEnd = (): void => {
    if (this.#closed) return;
    this.#closed = true;
    this.server.end(this.fd);
    this.#finish();
  };

  readonly #onBackendError = (error: NodeJS.ErrnoException): void => {
    if (this.#connected) return this.close();
    this.#connectFailed(this.#target!, error.code ?? error.message);
  };

  readonly #onBackendClose = (): void => {
    if (this.#connected) this.close();
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
    backend.destroy();
  }

  /** Called by the router's sweep when nothing moved for --fastrouter-timeout (connecting counts as nothing). */
  timedOut(): void {
    this.context.counters.timeouts++;
    if (!this.#connected && this.#backend !== null && this.#target !== null) {
      this.lastActive = this.context.tick;
      return this.#connectFailed(this.#target, 'timed out');
    }
    this.#give(`key "${this.#key}": no traffic for --fastrouter-timeout ${this.context.timeoutMs / 1000} s: session closed`);
  }

  /** Ends the session with one log line. */
  #give(why: string): void {
    log(why);
    this.close();
  }

  /** Drops both sides now. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#clientGone) this.server.destroy(this.fd);
    this.#finish();
  }

  #finish(): void {
    const backend = this.#backend;
    this.#backend = null;
    backend?.destroy();
    if (this.#target !== null) this.context.mapper.done(this.#target);
    this.#target = null;
    this.context.ended(this);
  }
}
