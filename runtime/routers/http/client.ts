/**
 * One client connection of the HTTP router and the requests parsed on it. Requests are
 * answered strictly in order: only the oldest is forwarded to a node, the ones pipelined
 * behind it wait (their packets built, their bodies buffered) until its response is relayed.
 */
import type { ConnServer } from '../../native.js';
import type { NodeHttpParser } from '../../protocols/http/llhttp.js';
import type { NodeExchange } from './exchange.js';

/** How a request body reaches the node. */
export const enum BodyFraming {
  None,
  /** CONTENT_LENGTH bytes after the vars. */
  Length,
  /** Transfer-Encoding: chunked, re-framed as chunks after the vars (the node decodes them). */
  Chunked,
  /** An Upgrade: after the 101, bytes flow both ways untouched. */
  Tunnel,
}

export class RoutedRequest {
  /** Body bytes parsed before the node connection could take them. */
  readonly pending: Buffer[] = [];
  /** The whole body has been parsed (or there is none). */
  complete: boolean;
  /** Keep the client connection after this response (the client and --http-keepalive allow it). */
  keepAlive: boolean;
  constructor(
    readonly packet: Buffer,
    /** The routing key (Host). */
    readonly key: string,
    keepAlive: boolean,
    readonly framing: BodyFraming,
    /** HEAD: the response has no body whatever it says. */
    readonly head: boolean,
    /** The client will not send its body before a 100 Continue. */
    readonly expectContinue: boolean,
    /** The client would reuse the connection unless told otherwise (HTTP/1.1 without close). */
    readonly clientKeepAlive: boolean,
    /** A safe method without a body: sent again on a fresh connection when a kept link turns out closed. */
    readonly retryable: boolean,
  ) {
    this.keepAlive = keepAlive;
    this.complete = framing === BodyFraming.None;
  }
}

export class ClientConnection {
  /** Parsed and not yet answered, oldest first; the first one is being forwarded. */
  readonly requests: RoutedRequest[] = [];
  /** The request whose body is arriving. */
  parsing: RoutedRequest | null = null;
  exchange: NodeExchange | null = null;
  /** When the head being received began (0: between messages): the headers timeout. */
  messageSince = 0;
  /** The last byte from the client or the node: --http-timeout. */
  lastActivity = Date.now();
  /** No more requests are parsed: answer what was, then close (drain, a parse error, an upgrade). */
  closing = false;
  readingPaused = false;
  /** After a 101: the bytes are the node's and the client's, no more HTTP. */
  tunnel = false;
  remote: { address: string; port: string } | null = null;
  /** Headers of a head so large that llhttp handed them over in parts. */
  headerParts: string[] | null = null;
  urlParts = '';

  constructor(readonly fd: number, readonly conns: ConnServer, readonly parser: NodeHttpParser<ClientConnection>, readonly listener: number) {}

  pauseReading(): void {
    if (this.readingPaused) return;
    this.readingPaused = true;
    this.conns.pauseReading(this.fd);
  }

  resumeReading(): void {
    if (!this.readingPaused || (this.closing && !this.tunnel && this.parsing === null)) return;
    this.readingPaused = false;
    this.conns.resumeReading(this.fd);
  }

  /** Between requests, with nothing on the way. */
  get idle(): boolean {
    return this.requests.length === 0 && this.exchange === null && this.messageSince === 0;
  }
}
