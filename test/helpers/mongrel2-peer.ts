/**
 * A stand-in for the Mongrel2 web server (not packaged for Debian) built on the zeromq package:
 * it binds a PUSH socket (requests out) and a SUB socket (responses in), as Mongrel2 binds its
 * send_spec and recv_spec, and speaks the handler wire format byte for byte (uWSGI's `plugins/mongrel2/mongrel2.c`):
 * JSON or tnetstring headers, netstring bodies, disconnect messages, and responses addressed
 * to one or several connection ids.
 */
import { randomUUID } from 'node:crypto';
import { Push, Subscriber } from 'zeromq';
import { parseResponse } from '../../runtime/protocols/zmq/mongrel2-parser.js';
import { parseRawHttpResponse, type RawHttpResponse } from './uwsgi-client.js';

export interface Mongrel2RequestInit {
  method?: string;
  /** Client headers, lowercase as Mongrel2 sends them; an array is a repeated header. */
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  /** VERSION: HTTP/1.1 unless given. */
  version?: string;
  /** URL_SCHEME: http unless given. */
  scheme?: string;
  /** How the headers are encoded: Mongrel2's `protocol='json'` (default) or `'tnetstring'`. */
  format?: 'json' | 'tnetstring';
  /** The connection id; a fresh one unless given (a keep-alive client reuses its id). */
  connId?: string;
  /**
   * A request pipelined behind an earlier one on `connId`: its response bytes join that
   * connection's exchange, as they would on the client's one TCP stream.
   */
  pipelined?: boolean;
}

/** One response message for a connection, `at` ms after its request was sent. */
export interface PeerMessage {
  at: number;
  body: Buffer;
}

/** What one client connection received from the handler. */
export class Exchange {
  readonly messages: PeerMessage[] = [];
  closed = false;
  /** ms after the request when the empty (close) message arrived, or -1. */
  closedAt = -1;
  sentAt = performance.now();
  #waiters: Array<() => void> = [];

  constructor(readonly connId: string) {}

  /** Every body byte received so far (the raw HTTP response). */
  get raw(): Buffer {
    return Buffer.concat(this.messages.map((message) => message.body));
  }

  /** The HTTP response received so far. */
  response(): RawHttpResponse {
    return parseRawHttpResponse(this.raw);
  }

  /** Closed by the handler, or a whole Content-Length response is here (keep-alive). */
  get complete(): boolean {
    if (this.closed) return true;
    const raw = this.raw;
    const headEnd = raw.indexOf('\r\n\r\n');
    if (headEnd < 0) return false;
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(raw.toString('latin1', 0, headEnd));
    return length !== null && raw.length - headEnd - 4 >= Number(length[1]);
  }

  /** Resolves once {@link complete} (or closed, with `untilClosed`); rejects after `timeoutMs`. */
  done(timeoutMs = 10_000, untilClosed = false): Promise<this> {
    const ready = () => (untilClosed ? this.closed : this.complete);
    if (ready()) return Promise.resolve(this);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connection ${this.connId}: no ${untilClosed ? 'close message' : 'complete response'} after ${timeoutMs} ms; got ${JSON.stringify(this.raw.toString('latin1').slice(0, 300))}`)), timeoutMs);
      const check = () => {
        if (!ready()) return void this.#waiters.push(check);
        clearTimeout(timer);
        resolve(this);
      };
      this.#waiters.push(check);
    });
  }

  /** @internal */
  received(body: Buffer): void {
    const at = performance.now() - this.sentAt;
    if (body.length === 0) {
      this.closed = true;
      this.closedAt = at;
    } else this.messages.push({ at, body });
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}

export class Mongrel2Peer {
  /** Handler connections (PULL sockets) that completed the ZMTP handshake with our PUSH. */
  handlers = 0;
  /** Response messages to connection ids nobody asked for. */
  readonly unknown: Array<{ connId: string; body: Buffer }> = [];
  /** Response messages that could not be parsed. */
  readonly malformed: Buffer[] = [];
  readonly #exchanges = new Map<string, Exchange>();
  readonly #queue: Buffer[] = [];
  #queueHead = 0;
  #sending = false;
  #nextConnId = 1;
  #handlerWaiters: Array<() => void> = [];

  private constructor(
    readonly uuid: string,
    readonly pushAddress: string,
    readonly subAddress: string,
    private readonly push: Push,
    private readonly sub: Subscriber,
  ) {}

  /** Binds PUSH on `pushAddress` and SUB on `subAddress` (Mongrel2's send_spec / recv_spec). */
  static async start(pushAddress: string, subAddress: string, uuid: string = randomUUID()): Promise<Mongrel2Peer> {
    const push = new Push({ sendHighWaterMark: 0, linger: 0 });
    const sub = new Subscriber({ receiveHighWaterMark: 0, linger: 0 });
    // Mongrel2 subscribes to its own UUID: responses start with the sender UUID they answer.
    sub.subscribe(uuid);
    const peer = new Mongrel2Peer(uuid, pushAddress, subAddress, push, sub);
    push.events.on('handshake', () => peer.#handlerJoined(1));
    push.events.on('disconnect', () => peer.#handlerJoined(-1));
    try {
      await push.bind(pushAddress);
      await sub.bind(subAddress);
    } catch (error) {
      peer.close();
      throw error;
    }
    void peer.#receiveLoop();
    return peer;
  }

  #handlerJoined(delta: number): void {
    this.handlers += delta;
    for (const waiter of this.#handlerWaiters.splice(0)) waiter();
  }

  /** Waits until `count` handlers pull requests (a handler connects PULL once it is subscribed). */
  waitForHandlers(count: number, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${this.handlers} of ${count} handlers connected after ${timeoutMs} ms`)), timeoutMs);
      const check = () => {
        if (this.handlers < count) return void this.#handlerWaiters.push(check);
        clearTimeout(timer);
        // The PUSH socket attaches the new pipe when it next processes commands; a short
        // pause makes round-robin see every handler from the first request on.
        setTimeout(resolve, 50);
      };
      check();
    });
  }

  async #receiveLoop(): Promise<void> {
    try {
      // Mongrel2's handler.c reads each frame as a response of its own (one zmq_msg_recv per
      // message, ZMQ_RCVMORE never checked): the frames of a multipart message are responses too.
      for await (const frames of this.sub) for (const message of frames) this.#onResponse(message);
    } catch {
      // the socket closed
    }
  }

  #onResponse(message: Buffer): void {
    let frame;
    try {
      frame = parseResponse(message);
    } catch {
      this.malformed.push(message);
      return;
    }
    for (const connId of frame.connIds) {
      const exchange = this.#exchanges.get(connId);
      if (exchange) exchange.received(frame.body);
      else this.unknown.push({ connId, body: frame.body });
    }
  }

  /** Sends a request as Mongrel2 would; the returned exchange collects what comes back. */
  request(target: string, init: Mongrel2RequestInit = {}): Exchange {
    const connId = init.connId ?? String(this.#nextConnId++);
    const earlier = init.pipelined ? this.#exchanges.get(connId) : undefined;
    if (earlier !== undefined) {
      this.sendRaw(encodeMongrel2Request(this.uuid, connId, target, init));
      return earlier;
    }
    const exchange = this.track(connId);
    exchange.sentAt = performance.now();
    this.sendRaw(encodeMongrel2Request(this.uuid, connId, target, init));
    return exchange;
  }

  /** Collects responses to `connId` without sending a request (a fresh exchange each call). */
  track(connId: string): Exchange {
    const exchange = new Exchange(connId);
    this.#exchanges.set(connId, exchange);
    return exchange;
  }

  /** Tells the handler the client of `connId` is gone, as Mongrel2 does when a client closes. */
  disconnect(connId: string, format: 'json' | 'tnetstring' = 'json'): void {
    const headers = format === 'json'
      ? netstring(Buffer.from(JSON.stringify({ METHOD: 'JSON' })), ',')
      : netstring(tnetstringPairs([['METHOD', 'JSON']]), '}');
    const body = netstring(Buffer.from(JSON.stringify({ type: 'disconnect' })), ',');
    this.sendRaw(Buffer.concat([Buffer.from(`${this.uuid} ${connId} @* `, 'latin1'), headers, body]));
  }

  /** Queues any bytes as one PUSH message (ZeroMQ allows one pending send at a time). */
  sendRaw(message: Buffer | string): void {
    this.#queue.push(typeof message === 'string' ? Buffer.from(message, 'latin1') : message);
    if (!this.#sending) void this.#flush();
  }

  async #flush(): Promise<void> {
    this.#sending = true;
    try {
      while (this.#queueHead < this.#queue.length) {
        const message = this.#queue[this.#queueHead]!;
        this.#queue[this.#queueHead++] = undefined as unknown as Buffer;
        await this.push.send(message);
      }
    } catch {
      // the socket closed
    } finally {
      this.#queue.length = 0;
      this.#queueHead = 0;
      this.#sending = false;
    }
  }

  exchange(connId: string): Exchange | undefined {
    return this.#exchanges.get(connId);
  }

  /** Forgets finished exchanges (long benchmark runs). */
  forget(connId: string): void {
    this.#exchanges.delete(connId);
  }

  close(): void {
    this.push.close();
    this.sub.close();
  }
}

function netstring(payload: Buffer, type: ',' | '}' | ']'): Buffer {
  return Buffer.concat([Buffer.from(`${payload.length}:`), payload, Buffer.from(type)]);
}

function tnetstringPairs(pairs: Array<[string, string | string[]]>): Buffer {
  return Buffer.concat(pairs.flatMap(([key, value]) => [
    netstring(Buffer.from(key, 'latin1'), ','),
    Array.isArray(value)
      ? netstring(Buffer.concat(value.map((item) => netstring(Buffer.from(item, 'latin1'), ','))), ']')
      : netstring(Buffer.from(value, 'latin1'), ','),
  ]));
}

/**
 * A request message exactly as Mongrel2 1.x builds it: the headers Mongrel2 adds (PATH, METHOD,
 * VERSION, URI, QUERY, PATTERN, URL_SCHEME, REMOTE_ADDR, x-forwarded-for) around the client's.
 */
export function encodeMongrel2Request(uuid: string, connId: string, target: string, init: Mongrel2RequestInit = {}): Buffer {
  const queryAt = target.indexOf('?');
  const path = queryAt < 0 ? target : target.slice(0, queryAt);
  const body = typeof init.body === 'string' ? Buffer.from(init.body) : init.body ?? Buffer.alloc(0);
  const pairs: Array<[string, string | string[]]> = [['PATH', path]];
  const client: Record<string, string | string[]> = { 'x-forwarded-for': '127.0.0.1', host: 'localhost:6767', ...init.headers };
  if (body.length > 0 && client['content-length'] === undefined) client['content-length'] = String(body.length);
  pairs.push(...Object.entries(client));
  pairs.push(['METHOD', init.method ?? 'GET'], ['VERSION', init.version ?? 'HTTP/1.1'], ['URI', target]);
  if (queryAt >= 0) pairs.push(['QUERY', target.slice(queryAt + 1)]);
  pairs.push(['PATTERN', '/'], ['URL_SCHEME', init.scheme ?? 'http'], ['REMOTE_ADDR', '127.0.0.1']);
  const headers = init.format === 'tnetstring'
    ? netstring(tnetstringPairs(pairs), '}')
    : netstring(Buffer.from(JSON.stringify(Object.fromEntries(pairs))), ',');
  return Buffer.concat([Buffer.from(`${uuid} ${connId} ${path} `, 'latin1'), headers, netstring(body, ',')]);
}
