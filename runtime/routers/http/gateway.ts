/**
 * The HTTP router's process-side core: accepts clients on the inherited --http sockets (the
 * addon's ConnServer, as the workers' HTTP sockets do), parses their requests with the same
 * llhttp binding and limits as --http-socket, forwards each one as a uwsgi packet to a node and
 * relays the answer. Keep-alive and pipelining are per client connection (client.ts), one trip
 * to a node per request (exchange.ts).
 */
import { ERROR_CODES, type ErrorCode } from '../../errors.js';
import { log } from '../../logger.js';
import { native, type ConnServer } from '../../native.js';
import { HTTPParser, MAX_HEADER_SIZE, REFUSALS, type NodeHttpParser, type ParseError } from '../../protocols/http/llhttp.js';
import { BodyFraming, ClientConnection, type RoutedRequest } from './client.js';
import { chunkFrame, CHUNKED_END, NodeExchange, type ExchangeOwner } from './exchange.js';
import { NodeLink, ROUTER_LINK_IDLE_MS } from './node-link.js';
import type { NodeAddress, NodePicker } from './node-picker.js';
import type { PacketSettings } from './packet.js';
import { newParser, type ParsedRequestSink } from './parser-callbacks.js';

/** Requests a client may pipeline before the router stops reading its connection. */
const MAX_PIPELINED = 16;
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

export interface GatewayConfig {
  nodes: NodePicker;
  keepAlive: boolean;
  timeoutMs: number;
  headersTimeoutMs: number;
  connectTimeoutMs: number;
  /** The nodes are the instance's own workers, which keep links (LINK_MODIFIER2 in every packet). */
  links: boolean;
  /** Every worker busy: wait on a link (false with --cheaper: in the listen queue it watches). */
  queueOnLinks: boolean;
  /** One per listener, by listener index. */
  settings: PacketSettings[];
}

export class HttpGateway implements ParsedRequestSink, ExchangeOwner {
  readonly #byFd: Array<ClientConnection | undefined> = [];
  readonly #listeners: ConnServer[] = [];
  readonly #freeParsers: Array<NodeHttpParser<ClientConnection>> = [];
  readonly #sweeper: NodeJS.Timeout;
  #open = 0;
  #draining = false;
  #onEmpty: (() => void) | null = null;
  #link: NodeLink | null = null;
  readonly keepAlive: boolean;

  constructor(private readonly config: GatewayConfig) {
    this.keepAlive = config.keepAlive;
    // One sweep a second instead of a timer per connection.
    this.#sweeper = setInterval(() => this.#sweep(), 1000);
  }

  listen(fd: number, index: number): void {
    this.#link ??= new NodeLink(fd, this.config.queueOnLinks);
    const conns: ConnServer = new native.ConnServer(fd, (connFd, chunk) => this.#onData(conns, connFd, chunk, index), (connFd) => this.#byFd[connFd]?.exchange?.resume());
    this.#listeners.push(conns);
    conns.start();
  }

  settings(listener: number): PacketSettings {
    return this.config.settings[listener]!;
  }

  #onData(conns: ConnServer, fd: number, chunk: Buffer | null, listener: number): void {
    let client = this.#byFd[fd];
    if (chunk === null) {
      if (client !== undefined) this.#closed(client);
      return;
    }
    if (client === undefined) {
      client = new ClientConnection(fd, conns, this.#takeParser(), listener);
      client.parser.connection = client;
      this.#byFd[fd] = client;
      this.#open++;
      client.messageSince = Date.now(); // a client that never sends gets 408 after the headers timeout
      if (chunk.length === 0) return;
    }
    client.lastActivity = Date.now();
    if (client.tunnel || (client.closing && client.parsing?.framing === BodyFraming.Tunnel)) return this.#tunnelBytes(client, chunk);
    const result = client.parser.execute(chunk);
    if (typeof result !== 'number') {
      if (this.#byFd[fd] === client) this.reject(client, result, result.code === 'HPE_INVALID_VERSION' ? 'TSGI_ERR_HTTP_VERSION' : 'TSGI_ERR_HTTP_PARSE');
      return;
    }
    const upgrading = client.parsing;
    if (upgrading?.framing === BodyFraming.Tunnel) {
      // llhttp stops at the end of an Upgrade head: what follows is the new protocol's.
      client.parser.connection = null;
      client.closing = true;
      if (result < chunk.length) this.#tunnelBytes(client, chunk.subarray(result));
    }
  }

  #tunnelBytes(client: ClientConnection, bytes: Buffer): void {
    const exchange = client.exchange;
    if (exchange === null) client.parsing?.pending.push(bytes);
    else if (!exchange.writeBody(bytes)) client.pauseReading();
  }

  #takeParser(): NodeHttpParser<ClientConnection> {
    const parser = this.#freeParsers.pop() ?? newParser(this);
    parser.initialize(HTTPParser.REQUEST, {}, MAX_HEADER_SIZE, 0);
    return parser;
  }

  remoteOf(client: ClientConnection): { address: string; port: string } {
    if (client.remote !== null) return client.remote;
    let remote = { address: '', port: '' };
    try {
      const peer = native.peerAddress(client.fd);
      if (peer.family !== 'unix') remote = { address: peer.address, port: String(peer.port) };
    } catch {
      // the client is gone already: the read that follows reports it
    }
    return (client.remote = remote);
  }

  onRequest(client: ClientConnection, request: RoutedRequest): void {
    client.requests.push(request);
    if (client.requests.length > MAX_PIPELINED) client.pauseReading();
    if (client.requests.length === 1) this.#forward(client);
  }

  onBody(client: ClientConnection, request: RoutedRequest, chunk: Buffer): void {
    const exchange = client.exchange;
    if (exchange === null || exchange.request !== request) {
      request.pending.push(request.framing === BodyFraming.Chunked ? chunkFrame(chunk) : chunk);
      if (request.pending.length > MAX_PIPELINED) client.pauseReading(); // resumed when its turn comes
    } else if (!exchange.writeBody(chunk)) client.pauseReading();
  }

  onBodyEnd(client: ClientConnection, request: RoutedRequest): void {
    request.complete = true;
    if (request.framing !== BodyFraming.Chunked) return;
    const exchange = client.exchange;
    if (exchange !== null && exchange.request === request) exchange.endChunkedBody();
    else request.pending.push(CHUNKED_END);
  }

  /** Starts the oldest request's trip to a node, if none is on the way. */
  #forward(client: ClientConnection): void {
    const request = client.requests[0];
    if (request === undefined || client.exchange !== null || this.#byFd[client.fd] !== client) return;
    if (this.#draining) request.keepAlive = false;
    if (request.expectContinue && !request.complete) client.conns.write(client.fd, CONTINUE);
    const exchange = new NodeExchange(this, this.#link!, client, request, this.config.links);
    client.exchange = exchange;
    client.resumeReading();
    exchange.start(this.config.nodes.pick(request.key));
  }

  nextNode(client: ClientConnection, failed: NodeAddress | undefined): NodeAddress | undefined {
    if (failed !== undefined) this.config.nodes.markFailed(failed);
    return this.config.nodes.pick(client.requests[0]?.key ?? '');
  }

  toClient(client: ClientConnection, bytes: Buffer): boolean {
    if (this.#byFd[client.fd] !== client) return true;
    return client.conns.write(client.fd, bytes);
  }

  finished(client: ClientConnection, reusable: boolean): void {
    client.requests.shift();
    client.exchange = null;
    if (this.#byFd[client.fd] !== client) return;
    if (!reusable || client.closing && client.requests.length === 0) return this.#end(client);
    client.resumeReading();
    if (client.requests.length > 0) this.#forward(client);
  }

  failed(client: ClientConnection, node: NodeAddress | undefined, status: 502 | 504, why: string): void {
    const code: ErrorCode = status === 502 ? 'TSGI_ERR_HROUTER_NODE_DOWN' : 'TSGI_ERR_HROUTER_NODE_TIMEOUT';
    if (status === 502 && node !== undefined) this.config.nodes.markFailed(node);
    log(`http router: ${status} to ${this.remoteOf(client).address || 'a unix socket client'}: ${code}: ${why}`);
    client.exchange = null;
    if (this.#byFd[client.fd] !== client) return;
    this.#refuse(client, status);
  }

  broken(client: ClientConnection): void {
    client.exchange = null;
    this.destroy(client);
  }

  /** Garbage instead of HTTP, or a request tsgi refuses: answer what was parsed before it, then its status, then close. */
  reject(client: ClientConnection, error: ParseError, code: ErrorCode = 'TSGI_ERR_HTTP_PARSE'): void {
    const why = `${error.code ?? ''} ${error.reason ?? error.message}`.trim();
    log(`http router: closing connection from ${this.remoteOf(client).address || 'a unix socket client'}: ${code}: ${why}`);
    client.parser.connection = null;
    client.closing = true;
    client.pauseReading();
    const parsing = client.parsing;
    client.parsing = null;
    if (parsing !== null && client.exchange?.request === parsing) {
      // Its body broke off: the node must not take the rest for a complete request.
      client.exchange.destroy();
      client.exchange = null;
      return this.destroy(client);
    }
    if (client.requests.length > 0) {
      for (const request of client.requests) request.keepAlive = false;
      return;
    }
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : (ERROR_CODES[code] as { status?: number }).status ?? 400;
    this.#refuse(client, status);
  }

  #refuse(client: ClientConnection, status: number): void {
    client.conns.write(client.fd, Buffer.from(`HTTP/1.1 ${REFUSALS[status] ?? REFUSALS[400]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, 'latin1'));
    this.#end(client);
  }

  /** Closes the connection once its queued bytes are out. */
  #end(client: ClientConnection): void {
    if (this.#forget(client)) client.conns.end(client.fd);
  }

  destroy(client: ClientConnection): void {
    if (this.#forget(client)) client.conns.destroy(client.fd);
  }

  #forget(client: ClientConnection): boolean {
    if (this.#byFd[client.fd] !== client) return false;
    this.#byFd[client.fd] = undefined;
    this.#open--;
    client.exchange?.destroy();
    client.exchange = null;
    client.requests.length = 0;
    client.parser.connection = null;
    this.#freeParsers.push(client.parser);
    if (this.#open === 0 && this.#draining) queueMicrotask(() => this.#onEmpty?.());
    return true;
  }

  /** The client closed or reset: its node connection goes too. */
  #closed(client: ClientConnection): void {
    this.#forget(client);
  }

  /** Slow heads (408), silent nodes or clients (--http-timeout), nodes that do not accept, idle keep-alive connections. */
  #sweep(): void {
    const now = Date.now();
    const { timeoutMs, headersTimeoutMs, connectTimeoutMs } = this.config;
    this.#link?.closeIdle(now - ROUTER_LINK_IDLE_MS);
    for (const client of this.#byFd) {
      if (client === undefined) continue;
      const exchange = client.exchange;
      if (exchange !== null) {
        if (!exchange.connected && now - exchange.startedAt > connectTimeoutMs) exchange.connectTimedOut();
        else if (exchange.connected && now - client.lastActivity > timeoutMs) exchange.timedOut();
      } else if (client.messageSince !== 0 && client.requests.length === 0 && now - client.messageSince > headersTimeoutMs) {
        log(`http router: closing connection from ${this.remoteOf(client).address || 'a unix socket client'}: TSGI_ERR_REQUEST_TIMEOUT: no complete request head within --http-headers-timeout`);
        this.#refuse(client, 408);
      } else if (client.idle && now - client.lastActivity > (this.#draining ? 250 : timeoutMs)) {
        this.destroy(client);
      }
    }
  }

  /**
   * Graceful stop: no new connections; each connection closes after the response it is
   * waiting for, idle ones within a quarter second (a request already on the wire is served).
   * Resolves once every connection is closed.
   */
  drain(): Promise<void> {
    this.#draining = true;
    for (const listener of this.#listeners) listener.close();
    this.#link?.stopKeeping();
    for (const client of this.#byFd) if (client !== undefined) for (const request of client.requests) request.keepAlive = false;
    return new Promise((resolve) => {
      this.#onEmpty = resolve;
      if (this.#open === 0) resolve();
    });
  }

  close(): void {
    clearInterval(this.#sweeper);
  }
}
