/**
 * One request's trip to a node: connect (another node on failure, up to 3 tries), send the
 * packet and the body as it arrives, relay the response to the client as it arrives. A uwsgi
 * node answers one request per connection and closes, so the node's EOF is the response's end;
 * the head is read to know whether the client connection may carry the next request, and when
 * the node is the instance's own worker on a link (`overLinks`), where a response framed by its
 * Content-Length ends at its last byte and the link goes back to the pool.
 */
import { BodyFraming, type ClientConnection, type RoutedRequest } from './client.js';
import type { LinkedWorker, NodeConnectionOwner, NodeLink } from './node-link.js';
import { LINK_HELLO_SIZE, LINK_MODIFIER2 } from '../../protocols/uwsgi/packet.js';
import type { NodeAddress } from './node-picker.js';
import { bodiless, headEnd, readResponseHead } from './response-head.js';

/** uWSGI's corerouter retries a failed connect with a new mapping this many times. */
export const MAX_CONNECT_TRIES = 3;
/** A node whose response head is larger than this is not speaking HTTP. */
const MAX_RESPONSE_HEAD = 64 * 1024;
export const CHUNKED_END = Buffer.from('0\r\n\r\n', 'latin1');
const EMPTY = Buffer.alloc(0);
const CLOSE_HEADER = Buffer.from('Connection: close\r\n\r\n', 'latin1');
const CHUNKED_HEADER = Buffer.from('Transfer-Encoding: chunked\r\n\r\n', 'latin1');

/** What the exchange reports back to the gateway that runs it. */
export interface ExchangeOwner {
  /** Node → client bytes; false: wait for the client's drain before more. */
  toClient(client: ClientConnection, bytes: Buffer): boolean;
  /** The response was relayed whole (`reusable`: the client connection may go on). */
  finished(client: ClientConnection, reusable: boolean): void;
  /** No node could take the request (502), or it was silent for too long (504). */
  failed(client: ClientConnection, node: NodeAddress | undefined, status: 502 | 504, why: string): void;
  /** The response broke off after bytes of it were relayed: the client connection must break too. */
  broken(client: ClientConnection): void;
  /** The next node to try, after `failed` (undefined: none left). */
  nextNode(client: ClientConnection, failed: NodeAddress | undefined): NodeAddress | undefined;
}

export class NodeExchange implements NodeConnectionOwner {
  /** The node connection (-1: none open). */
  fd = -1;
  node: NodeAddress | undefined;
  /** The node took bytes (a TCP connect completed): a failure now is no connect failure. */
  connected = false;
  startedAt = Date.now();
  #tries = 0;
  /** Response bytes relayed to the client (0: a failure can still be answered with a status). */
  relayed = 0;
  /** Head bytes gathered until the blank line arrives. */
  #head: Buffer | null = null;
  #headDone = false;
  #contentLength = -1;
  #bodyBytes = 0;
  #chunked = false;
  /** The last bytes relayed, to see a chunked body's end marker. */
  #tail: Buffer = Buffer.alloc(0);
  #reusable = false;
  /** HEAD, 1xx, 204, 304: whatever body the node sends is dropped. */
  #bodiless = false;
  /** The node's body ends at its EOF: the router frames it as chunks so the client connection lives on. */
  #autoChunk = false;
  #done = false;
  /** The connection is a link that served an earlier request: a close before any answer is its end, not this request's. */
  #reusedLink = false;
  /**
   * A link outlives this response when its body is framed by its Content-Length and the request
   * body (if any) had one too and went out whole: the worker's own rule (protocols/uwsgi/server.ts),
   * so both ends agree where the response ends.
   */
  #linkable = false;
  /** The worker at the other end of the link, once known (a reused link, or the hello of a new one). */
  #worker: LinkedWorker | null = null;
  /** Counted in the link pool's requests in flight. */
  #inFlight = false;
  /** The first bytes of a new link, gathered until the worker's whole hello is here (null: not waiting for one). */
  #hello: Buffer | null = null;
  constructor(readonly owner: ExchangeOwner, readonly link: NodeLink, readonly client: ClientConnection, readonly request: RoutedRequest, readonly overLinks: boolean) {}

  start(node: NodeAddress | undefined): void {
    this.#release(true);
    if (node === undefined) return this.#fail(502, 'no node to forward to');
    this.node = node;
    this.startedAt = Date.now();
    this.#reusedLink = false;
    if (this.overLinks) {
      const idle = this.link.takeIdle(node, this);
      this.#count(idle?.worker ?? null);
      if (idle !== undefined) {
        this.fd = idle.fd;
        this.#reusedLink = true;
        this.connected = true; // an established connection: the body goes out as it comes
        return this.#sendRequest();
      }
      this.#hello = EMPTY;
    }
    this.#tries++;
    try {
      this.fd = this.link.connect(node, this);
    } catch (error) {
      return this.#connectFailed(error as Error); // refused, missing, backlog full: known at once
    }
    this.#sendRequest();
  }

  /**
   * The packet and the body parsed so far. A TCP connect in progress queues them in C; the
   * body stays in `pending` too until the connect is known to be done, for a retry elsewhere.
   */
  #sendRequest(): void {
    const request = this.request;
    let flushed = this.link.conns.write(this.fd, request.packet);
    for (const chunk of request.pending) flushed = this.link.conns.write(this.fd, chunk);
    if (flushed) this.#connected();
  }

  #connected(): void {
    this.connected = true;
    this.request.pending.length = 0;
  }

  onNodeDrain(): void {
    if (!this.connected) this.#connected();
    this.client.resumeReading();
  }

  onNodeData(chunk: Buffer | null): void {
    if (chunk === null) {
      this.fd = -1;
      this.#release(true);
      // The worker closed the idle link as this request went out (it stops, or it timed the link out): it never read it.
      if (this.#reusedLink && this.relayed === 0 && !this.#headDone && this.request.retryable) return this.start(this.node);
      return this.connected ? this.#onClose() : this.#connectFailed(new Error('the connection failed'));
    }
    if (chunk.length === 0) return;
    if (!this.connected) this.#connected();
    if (this.#hello !== null && (chunk = this.#readHello(chunk)).length === 0) return;
    this.#onData(chunk);
  }

  /** Strips a new link's hello off its first bytes and learns its worker; a node that sends none is no link. */
  #readHello(chunk: Buffer): Buffer {
    const bytes = this.#hello!.length === 0 ? chunk : Buffer.concat([this.#hello!, chunk]);
    if (bytes[0] !== LINK_MODIFIER2) {
      this.#hello = null;
      return bytes;
    }
    if (bytes.length < LINK_HELLO_SIZE) {
      this.#hello = bytes;
      return EMPTY;
    }
    this.#hello = null;
    this.#count(this.link.linked(bytes.readUInt32LE(1), bytes.readUInt16LE(5), bytes.readUInt16LE(7)));
    return bytes.subarray(LINK_HELLO_SIZE);
  }

  /** One more request on a link (to `worker`, when it is known). */
  #count(worker: LinkedWorker | null): void {
    if (!this.#inFlight) {
      this.#inFlight = true;
      this.link.inFlight++;
    }
    if (worker !== null && this.#worker === null) {
      this.#worker = worker;
      worker.inFlight++;
    }
  }

  /** The exchange lets go of its link: out of the requests in flight, and (`closed`) out of its worker's links. */
  #release(closed: boolean): void {
    if (this.#inFlight) {
      this.#inFlight = false;
      this.link.inFlight--;
      if (this.#worker !== null) this.#worker.inFlight--;
    }
    if (closed && this.#worker !== null) this.link.unlinked(this.#worker);
    this.#worker = null;
    this.#hello = null;
  }

  /** --http-connect-timeout passed without a connection. */
  connectTimedOut(): void {
    this.#connectFailed(new Error('no connection within --http-connect-timeout'));
  }

  #connectFailed(error: Error): void {
    if (this.#done) return;
    this.#closeNode();
    const why = `${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}`.trim();
    const next = this.#tries < MAX_CONNECT_TRIES ? this.owner.nextNode(this.client, this.node) : undefined;
    if (next === undefined) return this.#fail(502, `cannot connect to ${this.node}: ${why}`);
    this.start(next);
  }

  /** Body (or tunnel) bytes from the client; false: the node is behind, pause the client. */
  writeBody(bytes: Buffer): boolean {
    return this.#send(this.request.framing === BodyFraming.Chunked ? chunkFrame(bytes) : bytes);
  }

  /** The chunked body ended: its last chunk. */
  endChunkedBody(): void {
    this.#send(CHUNKED_END);
  }

  #send(bytes: Buffer): boolean {
    if (!this.connected) this.request.pending.push(bytes);
    return this.fd >= 0 ? this.link.conns.write(this.fd, bytes) : true;
  }

  #onData(chunk: Buffer): void {
    this.client.lastActivity = Date.now();
    if (!this.#headDone) {
      const head = this.#head === null ? chunk : Buffer.concat([this.#head, chunk]);
      this.#head = null;
      const end = headEnd(head);
      if (end < 0) {
        if (head.length > MAX_RESPONSE_HEAD) return this.#abandon(`a response head over ${MAX_RESPONSE_HEAD} bytes from ${this.node}`);
        this.#head = head;
        return;
      }
      chunk = this.#readHead(head, end);
      if (this.#done) return;
    } else {
      chunk = this.#countBody(chunk);
      if (this.#autoChunk && chunk.length > 0) chunk = chunkFrame(chunk);
    }
    this.#relay(chunk);
    // Framed by its length and complete: done without waiting for the node's EOF (a wake-up and a read saved).
    if (this.#headDone && this.#contentLength >= 0 && this.#bodyBytes === this.#contentLength && !this.#done && !this.client.tunnel) {
      this.#done = true;
      if (this.#linkable && this.request.complete && this.#worker !== null) {
        this.link.keepIdle(this.fd, this.node!, this.#worker);
        this.fd = -1;
        this.#release(false);
      } else {
        this.#closeNode();
      }
      this.owner.finished(this.client, this.#reusable);
    }
  }

  /** Decides the framing from the head; returns what to relay (the head, maybe with Connection: close). */
  #readHead(bytes: Buffer, end: number): Buffer {
    const head = readResponseHead(bytes, end);
    if (head === null) {
      this.#abandon(`${this.node} answered something that is not an HTTP response`);
      return bytes;
    }
    const request = this.request;
    if (head.status === 101 && request.framing === BodyFraming.Tunnel) {
      this.#headDone = true;
      this.client.tunnel = true;
      this.client.resumeReading();
      return bytes;
    }
    if (head.status < 200 && head.status !== 101) {
      // 100 Continue and friends: relayed, and the real head follows.
      this.#relay(bytes.subarray(0, end));
      const rest = bytes.subarray(end);
      if (rest.length > 0) this.#onData(rest);
      return Buffer.alloc(0);
    }
    this.#headDone = true;
    const noBody = bodiless(head.status, request.head);
    this.#bodiless = noBody;
    this.#contentLength = noBody ? 0 : head.contentLength;
    this.#chunked = !noBody && head.chunked;
    const framed = noBody || this.#contentLength >= 0 || this.#chunked;
    this.#reusable = request.keepAlive && head.http11 && !head.close;
    this.#linkable = this.overLinks && !noBody && !head.close && head.contentLength >= 0 && request.framing !== BodyFraming.Chunked;
    // A uwsgi node may end an unframed body by closing: with keep-alive on, the router chunks it (uWSGI's --http-auto-chunked).
    this.#autoChunk = this.#reusable && !framed;
    const rest = bytes.subarray(end);
    const body = this.#countBody(rest);
    if (this.#autoChunk) return Buffer.concat([bytes.subarray(0, end - 2), CHUNKED_HEADER, body.length === 0 ? body : chunkFrame(body)]);
    if (this.#reusable || head.close || !request.clientKeepAlive) return body.length === rest.length ? bytes : bytes.subarray(0, end + body.length);
    // The client would send its next request on this connection: tell it the router closes.
    return Buffer.concat([bytes.subarray(0, end - 2), CLOSE_HEADER, body]);
  }

  /** Counts body bytes; a node that sends more than its Content-Length loses the excess and the keep-alive. */
  #countBody(chunk: Buffer): Buffer {
    if (this.#contentLength >= 0) {
      const room = this.#contentLength - this.#bodyBytes;
      if (chunk.length > room) {
        chunk = chunk.subarray(0, room);
        this.#linkable = false;
        // A uwsgi node sends HEAD's body like GET's (nginx drops it too): only a real overrun costs the keep-alive.
        if (!this.#bodiless) this.#reusable = false;
      }
      this.#bodyBytes += chunk.length;
    } else if (this.#chunked && chunk.length > 0) {
      this.#tail = chunk.length >= CHUNKED_END.length ? chunk.subarray(chunk.length - CHUNKED_END.length) : Buffer.concat([this.#tail, chunk]).subarray(-CHUNKED_END.length);
    }
    return chunk;
  }

  #relay(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.relayed += bytes.length;
    if (!this.owner.toClient(this.client, bytes) && this.fd >= 0) this.link.conns.pauseReading(this.fd);
  }

  /** The client drained what it was sent: read the node again. */
  resume(): void {
    if (this.fd >= 0) this.link.conns.resumeReading(this.fd);
  }

  #onClose(): void {
    if (this.#done) return;
    if (this.relayed === 0 && !this.#headDone) return this.#fail(502, `${this.node} closed the connection without answering`);
    this.#done = true;
    // A tunnel ends when the node ends it: what is still queued for the client goes out first.
    if (this.client.tunnel) return this.owner.finished(this.client, false);
    const whole = this.#contentLength >= 0 ? this.#bodyBytes === this.#contentLength : this.#chunked ? this.#tail.equals(CHUNKED_END) : true;
    if (!whole) return this.owner.broken(this.client);
    if (this.#autoChunk) this.owner.toClient(this.client, CHUNKED_END);
    this.owner.finished(this.client, this.#reusable);
  }

  /** The node broke the protocol: nothing more of it reaches the client. */
  #abandon(why: string): void {
    if (this.relayed === 0) return this.#fail(502, why);
    this.#done = true;
    this.destroy();
    this.owner.broken(this.client);
  }

  #fail(status: 502 | 504, why: string): void {
    if (this.#done) return;
    this.#done = true;
    this.destroy();
    this.owner.failed(this.client, this.node, status, why);
  }

  /** --http-timeout passed in silence: 504 if nothing was relayed yet, else the connection breaks. */
  timedOut(): void {
    if (this.relayed === 0 && !this.client.tunnel) return this.#fail(504, `${this.node} sent nothing within --http-timeout`);
    this.#done = true;
    this.destroy();
    this.owner.broken(this.client);
  }

  /** The client is gone (or the exchange is over): drop the node connection. */
  destroy(): void {
    this.#done = true;
    this.#closeNode();
  }

  #closeNode(): void {
    this.#release(true);
    if (this.fd < 0) return;
    this.link.close(this.fd);
    this.fd = -1;
  }
}

/** One decoded body chunk as a chunk of the chunked body the node receives. */
export function chunkFrame(chunk: Buffer): Buffer {
  const size = `${chunk.length.toString(16)}\r\n`;
  const framed = Buffer.allocUnsafe(size.length + chunk.length + 2);
  framed.write(size, 0, 'latin1');
  framed.set(chunk, size.length);
  framed.write('\r\n', size.length + chunk.length, 'latin1');
  return framed;
}
