/**
 * HTTP/1.1 on an `--http-socket` (or `--socket` with `--protocol http`): keep-alive, pipelining,
 * chunked bodies both ways, HEAD and `Expect: 100-continue`.
 *
 * Requests are parsed by Node's own HTTP parser (llhttp, the HTTPParser node:http drives), but
 * the connections are the addon's (native ConnServer, as for uwsgi) and tsgi writes the
 * responses itself: node:http's net.Socket, IncomingMessage and ServerResponse streams cost more
 * CPU per request, and more memory per parked long-poll, than the app behind them.
 */
import type { Chunk } from '../../../green/thread.js';
import { utcClock } from '../../clock.js';
import type { Core, ResponseWriter } from '../../worker/core.js';
import { Environ } from '../../worker/environ.js';
import { ERROR_CODES, tsgiError, type ErrorCode } from '../../errors.js';
import { PushedInput } from '../../worker/input.js';
import { log } from '../../logger.js';
import { native, type ConnServer } from '../../native.js';
import { registerProtocol, type Listener, type ListenHooks, type ProtocolContext, type ProtocolServer } from '../registry.js';
import { CLIENT_GONE, byteLength, errorResponse, resumeDrained } from '../response.js';
import { CoreQueue, type QueueOwner } from '../core-queue.js';
import { cgiHeaderName, decodePath } from '../cgi.js';
import { bodyPassedLimit, limitPostOf } from '../limits.js';
import { ABSOLUTE_FORM, HTTPParser, MAX_HEADER_SIZE, methods, REFUSALS, refuse, type NodeHttpParser as LlhttpParser, type ParseError } from './llhttp.js';

type NodeHttpParser = LlhttpParser<HttpConnection>;


/** node:http's default: 5 s before an idle keep-alive connection closes. */
const KEEP_ALIVE_TIMEOUT_MS = 5000;
/**
 * How long a stopping worker keeps an idle keep-alive connection open. Closing it at once
 * races the client's next request, which may already be on the wire: it would meet a closed
 * socket (wrk counts ~0.1 % of requests lost per reload so). Kept open, that request is
 * answered with `Connection: close` and the client reconnects to a new worker. A quarter of a
 * second covers a request already in flight (loopback to a slow WAN) and still stops "at once"
 * for a client that is really idle.
 */
const DRAIN_IDLE_GRACE_MS = 250;
/** Requests a client may pipeline before tsgi stops reading its connection. */
const MAX_PIPELINED = 16;
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

/** One parsed request and how its response is framed. */
class HttpRequest {
  input: PushedInput | null = null;
  /** Close the connection after this response (client asked, HTTP/1.0 stream, draining…). */
  close: boolean;
  chunked = false;
  /** Body bytes parsed so far, counted for a chunked body only (--limit-post). */
  chunkedBytes = 0;
  /** HEAD, 1xx, 204 or 304: headers only. */
  noBody = false;
  constructor(readonly env: Environ, keepAlive: boolean, readonly http10: boolean, readonly head: boolean, readonly expectContinue: boolean) {
    this.close = !keepAlive;
  }
}

class HttpConnection {
  readonly parser: NodeHttpParser;
  /** Parsed and not yet answered, oldest first; the first one holds `core`. */
  readonly requests: HttpRequest[] = [];
  /** The request whose body is arriving. */
  parsing: HttpRequest | null = null;
  core: Core | null = null;
  /** When the message being received began (0: between messages): the headers timeout. */
  messageSince = 0;
  idleSince = Date.now();
  /** No more requests: answer what was parsed, then close (drain, a parse error). */
  closing = false;
  readingPaused = false;
  remote: { address: string; port: string } | null = null;
  /** Headers of a message so large that the parser handed them over in parts. */
  headerParts: string[] | null = null;
  urlParts = '';

  constructor(readonly fd: number, readonly conns: ConnServer, readonly server: HttpServer, readonly serverPort: string) {
    this.parser = server.takeParser(this);
  }
}

class HttpServer implements ProtocolServer, QueueOwner<HttpConnection> {
  /** Open connections by fd (small integers: an array beats a Map). */
  readonly #byFd: Array<HttpConnection | undefined> = [];
  #open = 0;
  /** Connections whose next request waits for a core. */
  readonly #waiting: CoreQueue<HttpConnection>;
  readonly #listeners: ConnServer[] = [];
  readonly #freeParsers: NodeHttpParser[] = [];
  /** --socket-timeout: for a request head to complete, and between the bytes of a body. */
  readonly #headersTimeoutMs: number;
  readonly #sweeper: NodeJS.Timeout;
  #draining = false;
  #drainingSince = 0;
  readonly #underscores: boolean;
  /** --limit-post in bytes (Infinity: none). */
  readonly limitPost: number;

  constructor(readonly context: ProtocolContext) {
    this.limitPost = limitPostOf(context.options);
    this.#waiting = new CoreQueue(context, this);
    this.#headersTimeoutMs = Math.max(context.options['socket-timeout'] * 1000, 1000);
    this.#underscores = context.options['http-underscores-in-headers'];
    // One sweep a second instead of a timer per connection.
    this.#sweeper = setInterval(() => this.#sweep(), 1000).unref();
  }

  get connections(): number {
    return this.#open;
  }

  listen(fd: number, _label: string, hooks: ListenHooks): Listener {
    const local = native.localAddress(fd);
    const serverPort = local.family === 'unix' ? '' : String(local.port);
    const conns: ConnServer = new native.ConnServer(
      fd,
      (connFd, chunk) => this.#onData(conns, connFd, chunk, serverPort, hooks),
      (connFd) => resumeDrained(this.#byFd[connFd]?.core),
    );
    this.#listeners.push(conns);
    conns.start();
    return conns;
  }

  takeParser(connection: HttpConnection): NodeHttpParser {
    const parser = this.#freeParsers.pop() ?? newParser();
    parser.initialize(HTTPParser.REQUEST, {}, MAX_HEADER_SIZE, 0);
    parser.connection = connection;
    return parser;
  }

  #onData(conns: ConnServer, fd: number, chunk: Buffer | null, serverPort: string, hooks: ListenHooks): void {
    let connection = this.#byFd[fd];
    if (chunk === null) {
      if (connection !== undefined) this.#closed(connection);
      return;
    }
    if (connection === undefined) {
      connection = new HttpConnection(fd, conns, this, serverPort);
      this.#byFd[fd] = connection;
      this.#open++;
      // Every core is busy: new connections wait in the kernel backlog, for us or a sibling.
      if (!hooks.canAccept()) for (const listener of this.#listeners) listener.pause();
      // Nothing sent yet: the headers timeout runs from now (a client that never speaks gets 408).
      if (chunk.length === 0) return void (connection.messageSince = Date.now());
    }
    const result = connection.parser.execute(chunk);
    // A response that closed the connection during execute() leaves the rest of the bytes moot.
    if (typeof result !== 'number' && this.#byFd[fd] === connection) {
      // llhttp knows HTTP/1.0, 1.1 (and lets 0.9 and 2.0 through to onHeadersComplete): any other version is one we do not speak.
      this.reject(connection, result, result.code === 'HPE_INVALID_VERSION' ? 'TSGI_ERR_HTTP_VERSION' : 'TSGI_ERR_HTTP_PARSE');
    }
  }

  /** The parser finished a request's head: queue it on its connection, serve it if first. */
  onRequest(connection: HttpConnection, request: HttpRequest): void {
    connection.requests.push(request);
    connection.parsing = request;
    if (connection.requests.length > MAX_PIPELINED) pauseReading(connection);
    if (connection.requests.length === 1) this.dispatch(connection);
  }

  /** Gives the connection's first request a core, or queues the connection for one. */
  dispatch(connection: HttpConnection): void {
    const request = connection.requests[0];
    if (request === undefined || connection.core !== null || this.#byFd[connection.fd] !== connection) return;
    this.#waiting.serveOrQueue(connection);
  }

  serveQueued(): boolean {
    return this.#waiting.serveNext();
  }

  waitsForCore(connection: HttpConnection): boolean {
    return this.#byFd[connection.fd] === connection && connection.requests.length > 0;
  }

  /** Serves the connection's first request on `core`. */
  serveOn(connection: HttpConnection, core: Core): void {
    const request = connection.requests[0]!;
    connection.core = core;
    if (this.#draining) request.close = true;
    if (request.expectContinue) {
      connection.conns.write(connection.fd, CONTINUE);
      request.input?.restartClock(); // its body stalls from now on, not from when it was parsed
    }
    core.serve(request.env, HTTP_WRITER, connection);
  }

  /** The response of the connection's first request is complete. */
  finished(connection: HttpConnection): void {
    const request = connection.requests.shift()!;
    connection.core = null;
    connection.idleSince = Date.now();
    if (request.close || this.#byFd[connection.fd] !== connection) return this.#end(connection);
    // A body the app did not read is parsed and dropped, so the next request can follow.
    if (request.input !== null && connection.parsing === request) request.input = null;
    if (connection.readingPaused) resumeReading(connection);
    // The core is released after this returns: start the next pipelined request after that.
    if (connection.requests.length > 0) queueMicrotask(() => this.dispatch(connection));
  }

  /**
   * Garbage instead of HTTP, or a request we refuse: the status of `code` (431 for huge
   * headers), one log line, that connection closed. A body cut short by it fails the app's read.
   */
  reject(connection: HttpConnection, error: ParseError, code: ErrorCode = 'TSGI_ERR_HTTP_PARSE'): void {
    const remote = remoteOf(connection).address || 'unix socket';
    const why = `${error.code ?? ''} ${error.reason ?? error.message}`.trim();
    log(`http: closing connection from ${remote}: ${code}: ${why}`);
    connection.parser.connection = null; // the rest of these bytes is not parsed into requests
    connection.closing = true;
    pauseReading(connection);
    const parsing = connection.parsing;
    if (parsing !== null) {
      // The error is inside this request's body: its reader gets it (and, if the app lets it
      // through, the client its 400/408) instead of waiting for bytes that will never be parsed.
      connection.parsing = null;
      parsing.input?.destroy(tsgiError(code, `the request body was cut off: ${why}`));
    }
    if (connection.requests.length > 0) {
      // Answer what was parsed before the garbage, then close.
      for (const request of connection.requests) request.close = true;
      return;
    }
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : (ERROR_CODES[code] as { status?: number }).status ?? 400;
    connection.conns.write(connection.fd, Buffer.from(`HTTP/1.1 ${REFUSALS[status] ?? REFUSALS[400]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, 'latin1'));
    this.#end(connection);
  }

  /** Closes the connection once its queued bytes are out. */
  #end(connection: HttpConnection): void {
    if (!this.#forget(connection)) return;
    connection.conns.end(connection.fd);
  }

  /** Breaks the connection now; requests still queued on it are dropped. */
  destroy(connection: HttpConnection): void {
    if (!this.#forget(connection)) return;
    connection.requests.length = 0;
    connection.conns.destroy(connection.fd);
  }

  /** Drops the connection from the tables; false if it was gone already. */
  #forget(connection: HttpConnection): boolean {
    if (this.#byFd[connection.fd] !== connection) return false;
    this.#byFd[connection.fd] = undefined;
    this.#open--;
    const parser = connection.parser;
    parser.connection = null;
    this.#freeParsers.push(parser);
    return true;
  }

  /** The peer closed or reset: a request still running is halted, pipelined ones dropped. */
  #closed(connection: HttpConnection): void {
    if (!this.#forget(connection)) return;
    const core = connection.core;
    connection.core = null;
    for (const request of connection.requests) request.input?.destroy(tsgiError('TSGI_ERR_CANCELLED', 'client closed before sending the whole body'));
    connection.requests.length = 0;
    core?.halt(CLIENT_GONE);
  }

  /**
   * Headers that take longer than --socket-timeout (408), bodies that stall for as long (the
   * read fails), idle keep-alive connections (closed).
   */
  #sweep(): void {
    const now = Date.now();
    for (const connection of this.#byFd) {
      if (connection === undefined) continue;
      const parsing = connection.parsing;
      const input = parsing?.input;
      // Paused reading (app behind, pipelining limit) is ours, and a client waiting for its
      // 100 Continue does not send: the client is not stalling then.
      if (input != null && !connection.readingPaused && !awaitsContinue(connection, parsing!) && input.stalled(now, this.#headersTimeoutMs)) {
        this.reject(connection, new Error('no body bytes within --socket-timeout'), 'TSGI_ERR_REQUEST_TIMEOUT');
      } else if (connection.messageSince !== 0 && now - connection.messageSince > this.#headersTimeoutMs && connection.requests.length === 0) {
        log(`http: closing connection fd ${connection.fd}: TSGI_ERR_REQUEST_TIMEOUT: no complete request head within --socket-timeout`);
        connection.conns.write(connection.fd, Buffer.from('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', 'latin1'));
        this.#end(connection);
      } else if (isIdle(connection) && now - connection.idleSince > KEEP_ALIVE_TIMEOUT_MS) {
        this.destroy(connection);
      }
    }
  }

  /**
   * Graceful stop (called on every poll of the worker's drain): busy connections close after
   * their response, idle ones once they have been idle through DRAIN_IDLE_GRACE_MS of it (a
   * request arriving meanwhile is served, with `Connection: close`).
   */
  drain(): void {
    if (!this.#draining) this.#drainingSince = Date.now();
    this.#draining = true;
    const graceOver = Date.now() - this.#drainingSince >= DRAIN_IDLE_GRACE_MS;
    for (const connection of this.#byFd) {
      if (connection === undefined) continue;
      for (const request of connection.requests) request.close = true;
      if (!isIdle(connection)) connection.closing = true;
      else if (graceOver) {
        connection.closing = true;
        this.#end(connection);
      }
    }
  }

  /**
   * Raw header name → CGI name ('Content-Type' → 'CONTENT_TYPE', 'X-Foo' → 'HTTP_X_FOO'), or ''
   * to drop it: a name with '_' lands on the same variable as its dashed twin, so a client could
   * add to (and spoof) an X-Forwarded-For a trusted proxy set. nginx drops those headers too
   * (`underscores_in_headers off`); --http-underscores-in-headers keeps them.
   */
  cgiName(header: string): string {
    return !this.#underscores && header.includes('_') ? '' : cgiHeaderName(header);
  }

  destroyAll(): void {
    clearInterval(this.#sweeper);
    for (const connection of this.#byFd) {
      if (connection === undefined) continue;
      this.#closed(connection);
      connection.conns.destroy(connection.fd);
    }
  }
}

/** The request asked for 100 Continue and has not got it: it is not served yet. */
function awaitsContinue(connection: HttpConnection, request: HttpRequest): boolean {
  return request.expectContinue && (connection.core === null || connection.requests[0] !== request);
}

function isIdle(connection: HttpConnection): boolean {
  return connection.requests.length === 0 && connection.messageSince === 0 && connection.core === null;
}

function pauseReading(connection: HttpConnection): void {
  if (connection.readingPaused) return;
  connection.readingPaused = true;
  connection.conns.pauseReading(connection.fd);
}

function resumeReading(connection: HttpConnection): void {
  if (!connection.readingPaused || connection.closing) return;
  connection.readingPaused = false;
  connection.conns.resumeReading(connection.fd);
}

// The parser's callbacks: `this` is the connection's parser.

function newParser(): NodeHttpParser {
  const parser = new HTTPParser<HttpConnection>();
  parser[HTTPParser.kOnMessageBegin] = onMessageBegin;
  parser[HTTPParser.kOnHeaders] = onHeaders;
  parser[HTTPParser.kOnHeadersComplete] = onHeadersComplete;
  parser[HTTPParser.kOnBody] = onBody;
  parser[HTTPParser.kOnMessageComplete] = onMessageComplete;
  parser[HTTPParser.kOnExecute] = null;
  return parser;
}

function onMessageBegin(this: NodeHttpParser): void {
  const connection = this.connection;
  if (connection !== null) connection.messageSince = Date.now();
}

/** Headers beyond the first 32 pairs arrive in parts before onHeadersComplete. */
function onHeaders(this: NodeHttpParser, headers: string[], url: string): void {
  const connection = this.connection;
  if (connection === null) return;
  (connection.headerParts ??= []).push(...headers);
  connection.urlParts += url;
}

function onHeadersComplete(this: NodeHttpParser, major: number, minor: number, headers: string[] | undefined, method: number, url: string | undefined,
  _statusCode: unknown, _statusMessage: unknown, upgrade: boolean, shouldKeepAlive: boolean): number {
  const connection = this.connection;
  if (connection === null) return 0;
  connection.messageSince = 0;
  if (headers === undefined || connection.headerParts !== null) {
    headers = [...(connection.headerParts ?? []), ...(headers ?? [])];
    url = connection.urlParts + (url ?? '');
    connection.headerParts = null;
    connection.urlParts = '';
  }
  const name = methods[method]!;
  const refusal = refuse(name, url ?? '/', major);
  if (refusal !== null) {
    connection.server.reject(connection, refusal, refusal.tsgiCode);
    return 0;
  }
  const env = httpEnviron(connection, name, url ?? '/', major, minor, headers);
  if (env === null) {
    // RFC 9112 §3.2: "more than one Host header field line" gets 400, as does no Host below.
    connection.server.reject(connection, Object.assign(new Error('a request with more than one Host header'), { code: 'HPE_DUPLICATE_HOST' }));
    return 0;
  }
  if (env.HTTP_HOST === undefined && major === 1 && minor === 1) {
    // RFC 9112 §3.2: a server answers 400 to an HTTP/1.1 request without Host (node:http does).
    connection.server.reject(connection, Object.assign(new Error('an HTTP/1.1 request without a Host header'), { code: 'HPE_MISSING_HOST' }));
    return 0;
  }
  const http10 = major === 1 && minor === 0;
  const expectContinue = !http10 && typeof env.HTTP_EXPECT === 'string' && env.HTTP_EXPECT.toLowerCase() === '100-continue';
  // An Upgrade (WebSocket) is answered as a plain request; the connection cannot go on after it.
  const request = new HttpRequest(env, shouldKeepAlive && !upgrade && !connection.closing, http10, name === 'HEAD', expectContinue);
  const length = env.CONTENT_LENGTH === undefined ? (env.HTTP_TRANSFER_ENCODING === undefined ? 0 : -1) : Number(env.CONTENT_LENGTH);
  if (length > connection.server.limitPost) {
    connection.server.reject(connection, new Error(`CONTENT_LENGTH ${length} exceeds --limit-post ${connection.server.limitPost}`), 'TSGI_ERR_LIMIT_POST');
    return 0;
  }
  if (length !== 0) {
    request.input = new PushedInput(length, () => resumeReading(connection));
    Environ.setInput(env, request.input);
  }
  connection.server.onRequest(connection, request);
  return 0;
}

function onBody(this: NodeHttpParser, chunk: Buffer): void {
  const connection = this.connection;
  const input = connection?.parsing?.input;
  if (input == null) return; // answered already: the rest of the body is dropped
  if (input.length < 0 && passesLimitPost(connection!, chunk.length)) return;
  if (!input.push(chunk)) pauseReading(connection!);
}

/** A chunked body announces no length: it is cut off (413) where it passes --limit-post. */
function passesLimitPost(connection: HttpConnection, bytes: number): boolean {
  const request = connection.parsing!;
  const limit = connection.server.limitPost;
  if ((request.chunkedBytes += bytes) <= limit) return false;
  connection.server.reject(connection, new Error(bodyPassedLimit(request.chunkedBytes, limit)), 'TSGI_ERR_LIMIT_POST');
  return true;
}

function onMessageComplete(this: NodeHttpParser): void {
  const connection = this.connection;
  if (connection === null) return;
  connection.parsing?.input?.end();
  connection.parsing = null;
  // Trailers of a chunked body arrive through onHeaders: they belong to no next request.
  connection.headerParts = null;
  connection.urlParts = '';
}

/** The client's address, asked once per connection (unix sockets have none). */
function remoteOf(connection: HttpConnection): { address: string; port: string } {
  if (connection.remote !== null) return connection.remote;
  let remote = { address: '', port: '' };
  try {
    const peer = native.peerAddress(connection.fd);
    if (peer.family !== 'unix') remote = { address: peer.address, port: String(peer.port) };
  } catch {
    // the client is gone already: the read that follows reports it
  }
  return (connection.remote = remote);
}


/** The env of a request, or null when it carries more than one Host header. */
function httpEnviron(connection: HttpConnection, method: string, target: string, major: number, minor: number, raw: string[]): Environ | null {
  const env = new Environ();
  let url = target;
  let authority: string | undefined;
  if (target.charCodeAt(0) !== 0x2f /* '/' */) {
    const absolute = ABSOLUTE_FORM.exec(target);
    if (absolute !== null) {
      // The app sees the origin form, as nginx passes it in $request_uri.
      authority = absolute[1];
      url = target.slice(absolute[0].length);
      if (url.charCodeAt(0) !== 0x2f) url = `/${url}`;
    }
  }
  const query = url.indexOf('?');
  const remote = remoteOf(connection);
  env.REQUEST_METHOD = method;
  env.REQUEST_URI = url;
  env.PATH_INFO = decodePath(query < 0 ? url : url.slice(0, query));
  env.QUERY_STRING = query < 0 ? '' : url.slice(query + 1);
  env.SCRIPT_NAME = '';
  env.SERVER_PROTOCOL = `HTTP/${major}.${minor}`;
  env.REMOTE_ADDR = remote.address;
  env.REMOTE_PORT = remote.port;
  const server = connection.server;
  for (let i = 0; i < raw.length; i += 2) {
    const name = server.cgiName(raw[i]!);
    if (name === '') continue;
    const previous = env[name];
    if (previous === undefined) {
      env[name] = raw[i + 1];
    } else {
      if (name === 'HTTP_HOST') return null;
      env[name] = `${previous as string}${name === 'HTTP_COOKIE' ? '; ' : ', '}${raw[i + 1]}`;
    }
  }
  // The target's authority overrides Host (RFC 9112 §3.2.2); a missing Host still gets its 400.
  if (authority !== undefined && env.HTTP_HOST !== undefined) env.HTTP_HOST = authority;
  const host = env.HTTP_HOST as string | undefined;
  const colon = host === undefined ? -1 : host.lastIndexOf(':');
  env.SERVER_NAME = host === undefined ? '' : colon > 0 && !host.endsWith(']') ? host.slice(0, colon) : host;
  env.SERVER_PORT = connection.serverPort;
  env['tsgi.url_scheme'] = 'http';
  return env;
}

/**
 * The status line and headers. `bodyLength` is the whole body's length when the response is
 * complete (then it is framed by Content-Length), or -1 while streaming (chunked on HTTP/1.1;
 * on HTTP/1.0 the body ends when the connection closes).
 */
function responseHead(core: Core, request: HttpRequest, bodyLength: number): string {
  const code = core.statusCode;
  request.noBody = request.head || code === 204 || code === 304 || code < 200;
  let head = `HTTP/1.1 ${core.status}\r\n`;
  let framed = false;
  let connectionHeader = false;
  const headers = core.headers;
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!;
    head += `${name}: ${value}\r\n`;
    const length = name.length;
    if (length === 10 || length === 14 || length === 17) {
      const lower = name.toLowerCase();
      if (lower === 'content-length' || lower === 'transfer-encoding') framed = true;
      else if (lower === 'connection') {
        connectionHeader = true;
        if (value.toLowerCase().includes('close')) request.close = true;
      }
    }
  }
  if (!framed && !(request.noBody && !request.head)) {
    if (bodyLength >= 0) head += `Content-Length: ${bodyLength}\r\n`;
    else if (request.head) {
      // no body follows, and its length is not known: the connection stays usable
    } else if (!request.http10) {
      head += 'Transfer-Encoding: chunked\r\n';
      request.chunked = true;
    } else {
      request.close = true;
    }
  }
  if (!connectionHeader) {
    if (request.close) head += 'Connection: close\r\n';
    else if (request.http10) head += 'Connection: keep-alive\r\n';
  }
  return `${head}Date: ${utcClock()}\r\n\r\n`;
}

/** Head (if not sent yet), the chunk framed as the response needs, and the end marker if `last`. */
function responseBytes(core: Core, request: HttpRequest, chunk: Chunk | undefined, last: boolean): Buffer {
  let head = '';
  if (!core.headersSent) {
    head = responseHead(core, request, last ? byteLength(chunk) : -1);
    core.headersSent = true;
  }
  const bodyLength = request.noBody ? 0 : byteLength(chunk);
  let prefix = '';
  let suffix = '';
  if (request.chunked) {
    if (bodyLength > 0) {
      prefix = `${bodyLength.toString(16)}\r\n`;
      suffix = '\r\n';
    }
    if (last) suffix += '0\r\n\r\n';
  }
  const bytes = Buffer.allocUnsafe(head.length + prefix.length + bodyLength + suffix.length);
  let at = bytes.write(head, 0, 'latin1');
  if (prefix.length > 0) at += bytes.write(prefix, at, 'latin1');
  if (bodyLength > 0) at += typeof chunk === 'string' ? bytes.write(chunk, at, 'utf8') : (bytes.set(chunk!, at), bodyLength);
  if (suffix.length > 0) bytes.write(suffix, at, 'latin1');
  return bytes;
}

const HTTP_WRITER: ResponseWriter = {
  send(core, chunk) {
    const connection = core.conn as HttpConnection;
    if (connection.core !== core) return true; // the client is gone: the halt follows
    return connection.conns.write(connection.fd, responseBytes(core, connection.requests[0]!, chunk, false));
  },
  finish(core, last) {
    const connection = core.conn as HttpConnection;
    if (connection.core !== core) return;
    connection.conns.write(connection.fd, responseBytes(core, connection.requests[0]!, last, true));
    connection.server.finished(connection);
  },
  abort(core, status) {
    const connection = core.conn as HttpConnection;
    if (connection.core !== core) return;
    const request = connection.requests[0]!;
    request.close = true;
    if (core.headersSent) {
      // Mid-body: a truncated response must not look complete; break the connection.
      connection.core = null;
      return connection.server.destroy(connection);
    } else {
      core.headersSent = true;
      connection.conns.write(connection.fd, Buffer.from(errorResponse('HTTP/1.1', status, 'Connection: close\r\n'), 'latin1'));
    }
    connection.server.finished(connection);
  },
  awaitDrain() {
    // The connection server calls onDrain(fd), which resumes the core.
  },
};

registerProtocol('http', (context) => new HttpServer(context));
