/**
 * One FastRouter session: a client connection (nginx's `uwsgi_pass`) read up to the end of its
 * vars block, then spliced to a node. Both sides are connections of the router's
 * {@link ConnServer} (the client accepted, the node connected and adopted), so the bytes move
 * in C and JS only routes them. The header and vars go out with bytes 0 and 3 replaced by the
 * node's modifier1/modifier2 (spec §3); everything after them, both ways, is passed on chunk by
 * chunk with backpressure (a full side pauses reading the other), never buffered whole. A node
 * that does not connect is reported to the mapper (which marks it dead or skips it) and the key
 * is mapped again, up to --fastrouter-max-retries times, then the --fastrouter-fallback nodes
 * are tried in order.
 */
import { log } from '../../logger.js';
import { native, Poll, POLL_WRITABLE, type ConnServer } from '../../native.js';
import { errnoName, openNode } from './connect.js';
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
  /** Data and drains of `fd` go to `session` (its node connection). */
  claim(fd: number, session: Session): void;
  /** `fd` is closed: its number may come back as another connection. */
  release(fd: number): void;
  /** The session is over (both fds released). */
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
  /** The node connection's fd (-1: none); a ConnServer connection once {@link #connected}. */
  #node = -1;
  #poll: Poll | null = null;
  #target: Target | null = null;
  #connected = false;
  #retries = 0;
  #fallback = 0;
  #closed = false;
  #clientOpen = true;
  /** {@link SessionContext.tick} of the last traffic. */
  lastActive: number;

  constructor(private readonly context: SessionContext, private readonly server: ConnServer, readonly fd: number) {
    this.lastActive = context.tick;
  }

  /** What the ConnServer read from `fd` (null: that side is gone and its fd closed). */
  data(fd: number, chunk: Buffer | null): void {
    if (fd === this.fd) this.#fromClient(chunk);
    else this.#fromNode(chunk);
  }

  /** `fd` took everything queued for it: the other side may be read again. */
  drained(fd: number): void {
    if (this.#closed) return;
    if (fd === this.fd) this.server.resumeReading(this.#node);
    else if (this.#bodyLeft > 0) this.server.resumeReading(this.fd);
  }

  #fromClient(chunk: Buffer | null): void {
    if (chunk === null) {
      this.#clientOpen = false;
      this.context.release(this.fd);
      return this.close();
    }
    this.lastActive = this.context.tick;
    if (this.#connected) return this.#toNode(chunk);
    if (chunk.length === 0) return;
    if (this.#head !== null) { // body bytes while the node is being connected
      this.#head = Buffer.concat([this.#head, chunk]);
      this.#countBody(chunk.length);
      return;
    }
    this.#collectHead(chunk);
  }

  #fromNode(chunk: Buffer | null): void {
    if (chunk === null) { // the node finished (or failed): the client gets EOF once it has it all
      this.context.release(this.#node);
      this.#node = -1;
      if (this.#closed) return;
      this.#closed = true;
      if (this.#clientOpen) {
        this.#clientOpen = false;
        this.server.end(this.fd);
        this.context.release(this.fd);
      }
      return this.#finish();
    }
    if (chunk.length === 0 || this.#closed) return;
    this.lastActive = this.context.tick;
    if (!this.server.write(this.fd, chunk)) this.server.pauseReading(this.#node);
  }

  #countBody(length: number): void {
    this.#bodyLeft -= length;
    // A client that shuts its side after the body must not read as gone before the response.
    if (this.#bodyLeft <= 0) this.server.pauseReading(this.fd);
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
    this.#bodyLeft = head.contentLength;
    this.#countBody(first.length - 4 - size);
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
    let node: { fd: number; pending: boolean };
    try {
      node = openNode(target.address);
    } catch (error) {
      return this.#connectFailed(target, (error as NodeJS.ErrnoException).code ?? (error as Error).message);
    }
    this.#node = node.fd;
    if (!node.pending) return this.#onConnected();
    this.#poll = new Poll(node.fd, this.#onWritable, true);
    this.#poll.start(POLL_WRITABLE);
  }

  readonly #onWritable = (): void => {
    this.#stopPoll();
    const error = native.socketError(this.#node);
    if (error === 0) return this.#onConnected();
    native.close(this.#node);
    this.#node = -1;
    this.#connectFailed(this.#target!, errnoName(error));
  };

  #stopPoll(): void {
    this.#poll?.close();
    this.#poll = null;
  }

  #onConnected(): void {
    this.#connected = true;
    const head = this.#head!;
    head[0] = this.#target!.modifier1;
    head[3] = this.#target!.modifier2;
    this.#head = null;
    const node = this.#node;
    this.context.claim(node, this);
    this.server.adopt(node); // its first read may report it gone at once: then the session is over
    if (!this.#closed && !this.server.write(node, head)) this.server.pauseReading(this.fd);
  }

  #toNode(chunk: Buffer): void {
    this.#countBody(chunk.length);
    if (!this.server.write(this.#node, chunk)) this.server.pauseReading(this.fd);
  }

  #connectFailed(target: Target, why: string): void {
    const { context } = this;
    context.counters.connectFailures++;
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

  /** Called by the router's sweep when nothing moved for --fastrouter-timeout (connecting counts as nothing). */
  timedOut(): void {
    this.context.counters.timeouts++;
    if (this.#poll !== null) {
      this.lastActive = this.context.tick;
      this.#stopPoll();
      native.close(this.#node);
      this.#node = -1;
      return this.#connectFailed(this.#target!, 'timed out');
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
    if (this.#clientOpen) {
      this.#clientOpen = false;
      this.server.destroy(this.fd);
      this.context.release(this.fd);
    }
    if (this.#poll !== null) {
      this.#stopPoll();
      native.close(this.#node);
    } else if (this.#connected && this.#node >= 0) {
      this.server.destroy(this.#node);
      this.context.release(this.#node);
    }
    this.#node = -1;
    this.#finish();
  }

  #finish(): void {
    if (this.#target !== null) this.context.mapper.done(this.#target);
    this.#target = null;
    this.context.ended(this);
  }
}
