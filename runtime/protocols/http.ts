/**
 * HTTP/1.1 on an `--http-socket` (or `--socket` with `--protocol http`): Node's own parser
 * (node:http) for keep-alive, chunked bodies, HEAD and `Expect: 100-continue`; tsgi supplies the
 * accepted connections, the CGI env and the response writer.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { DRAIN, type Chunk } from '../../green/thread.js';
import type { Core, ResponseWriter } from '../core.js';
import { Environ } from '../environ.js';
import { tsgiError } from '../errors.js';
import { IncomingInput } from '../input.js';
import { log } from '../logger.js';
import { registerProtocol, type ProtocolContext, type ProtocolServer } from './registry.js';

const kServer = Symbol('tsgi.http.server');
const kCore = Symbol('tsgi.http.core');
type TsgiServer = Server & { [kServer]: HttpServer };
type TsgiResponse = ServerResponse & { [kCore]: Core | null };

const CLIENT_GONE = tsgiError('TSGI_ERR_CANCELLED', 'client disconnected');

class HttpServer implements ProtocolServer {
  readonly #server: TsgiServer;
  readonly #open = new Set<Socket>();
  readonly #queue: Array<IncomingMessage | ServerResponse> = [];
  #draining = false;

  constructor(readonly context: ProtocolContext) {
    const timeoutMs = context.options['socket-timeout'] * 1000;
    this.#server = createServer({ keepAliveTimeout: 5000, headersTimeout: Math.max(timeoutMs, 1000), requestTimeout: 0 }, onRequest) as TsgiServer;
    this.#server[kServer] = this;
    this.#server.on('clientError', onClientError);
    // The server never listen()s (tsgi accepts), but 'listening' is what starts node:http's
    // connection tracking: headersTimeout checks and closeIdleConnections() depend on it.
    this.#server.emit('listening');
  }

  get connections(): number {
    return this.#open.size;
  }

  serve(fd: number): void {
    const socket = new Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
    this.#open.add(socket);
    socket.on('close', () => this.#open.delete(socket));
    this.#server.emit('connection', socket);
  }

  onRequest(request: IncomingMessage, response: ServerResponse): void {
    const core = this.context.scheduler.acquire();
    if (core === null) {
      // All cores busy: the request waits here (its connection is already accepted).
      this.#queue.push(request, response);
      this.context.onFull();
      return;
    }
    this.#start(core, request, response);
  }

  /** Starts the oldest waiting request if a core is free; true if it took one. */
  serveQueued(): boolean {
    if (this.#queue.length === 0) return false;
    const core = this.context.scheduler.acquire();
    if (core === null) return false;
    const request = this.#queue.shift() as IncomingMessage;
    const response = this.#queue.shift() as ServerResponse;
    if (response.destroyed) {
      core.release();
      return true;
    }
    this.#start(core, request, response);
    return true;
  }

  #start(core: Core, request: IncomingMessage, response: ServerResponse): void {
    const env = httpEnviron(request);
    (response as TsgiResponse)[kCore] = core;
    response.on('close', onResponseClose);
    if (this.#draining) response.shouldKeepAlive = false;
    core.serve(env, HTTP_WRITER, response);
  }

  drain(): void {
    this.#draining = true;
    this.#server.closeIdleConnections();
  }

  destroyAll(): void {
    for (const socket of this.#open) socket.destroy();
  }
}

function onRequest(this: TsgiServer, request: IncomingMessage, response: ServerResponse): void {
  this[kServer].onRequest(request, response);
}

/** Garbage instead of HTTP: 400, one log line, that connection closed. */
function onClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
  log(`http: closing connection from ${socket.remoteAddress ?? 'unix socket'}: TSGI_ERR_HTTP_PARSE: ${error.code ?? ''} ${error.message}`);
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function onResponseClose(this: TsgiResponse): void {
  const core = this[kCore];
  if (core === null) return;
  this[kCore] = null;
  core.halt(CLIENT_GONE);
}

function onResponseDrain(this: TsgiResponse): void {
  const core = this[kCore];
  if (core !== null && core.waiting === DRAIN) core.resume(DRAIN, undefined);
}

/** Raw header name → CGI name ('Content-Type' → 'CONTENT_TYPE', 'X-Foo' → 'HTTP_X_FOO'). */
const cgiNames = new Map<string, string>();

function cgiName(header: string): string {
  let name = cgiNames.get(header);
  if (name !== undefined) return name;
  const upper = header.toUpperCase().replace(/-/g, '_');
  name = upper === 'CONTENT_TYPE' || upper === 'CONTENT_LENGTH' ? upper : `HTTP_${upper}`;
  if (cgiNames.size < 2048) cgiNames.set(header, name);
  return name;
}

/** Percent-decodes a path into a byte string (one char per byte), as nginx's $document_uri. */
function decodePath(path: string): string {
  if (path.indexOf('%') < 0) return path;
  return path.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function httpEnviron(request: IncomingMessage): Environ {
  const env = new Environ();
  const url = request.url ?? '/';
  const query = url.indexOf('?');
  const socket = request.socket;
  env.REQUEST_METHOD = request.method;
  env.REQUEST_URI = url;
  env.PATH_INFO = decodePath(query < 0 ? url : url.slice(0, query));
  env.QUERY_STRING = query < 0 ? '' : url.slice(query + 1);
  env.SCRIPT_NAME = '';
  env.SERVER_PROTOCOL = request.httpVersion === '1.1' ? 'HTTP/1.1' : `HTTP/${request.httpVersion}`;
  env.REMOTE_ADDR = socket.remoteAddress ?? '';
  env.REMOTE_PORT = socket.remotePort === undefined ? '' : String(socket.remotePort);
  const raw = request.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = cgiName(raw[i]!);
    const previous = env[name];
    env[name] = previous === undefined ? raw[i + 1] : `${previous as string}${name === 'HTTP_COOKIE' ? '; ' : ', '}${raw[i + 1]}`;
  }
  const host = env.HTTP_HOST as string | undefined;
  const colon = host === undefined ? -1 : host.lastIndexOf(':');
  env.SERVER_NAME = host === undefined ? (socket.localAddress ?? '') : colon > 0 && !host.endsWith(']') ? host.slice(0, colon) : host;
  env.SERVER_PORT = socket.localPort === undefined ? '' : String(socket.localPort);
  env['tsgi.url_scheme'] = 'http';
  const length = env.CONTENT_LENGTH === undefined ? (request.headers['transfer-encoding'] ? -1 : 0) : Number(env.CONTENT_LENGTH);
  if (length !== 0) Environ.setInput(env, new IncomingInput(request, length));
  return env;
}

/** Sends the status line and headers; adds Content-Length when the whole body is known. */
function writeHead(core: Core, response: ServerResponse, wholeBody: Chunk | undefined, complete: boolean): void {
  core.headersSent = true;
  const headers = core.headers;
  const flat: string[] = [];
  let framed = false;
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!;
    flat.push(name, value);
    if (!framed && (name.length === 14 || name.length === 17)) {
      const lower = name.toLowerCase();
      framed = lower === 'content-length' || lower === 'transfer-encoding';
    }
  }
  if (complete && !framed) {
    const length = wholeBody === undefined ? 0 : typeof wholeBody === 'string' ? Buffer.byteLength(wholeBody) : wholeBody.length;
    flat.push('Content-Length', String(length));
  }
  const status = core.status!;
  response.writeHead(core.statusCode, status.length > 4 ? status.slice(4) : undefined, flat);
}

const HTTP_WRITER: ResponseWriter = {
  send(core, chunk) {
    const response = core.conn as ServerResponse;
    if (!core.headersSent) writeHead(core, response, undefined, false);
    return response.write(chunk);
  },
  finish(core, last) {
    const response = core.conn as TsgiResponse;
    response[kCore] = null;
    if (!core.headersSent) writeHead(core, response, last, true);
    response.end(last);
  },
  abort(core, status) {
    const response = core.conn as TsgiResponse;
    response[kCore] = null;
    if (response.headersSent || response.destroyed) return void response.destroy();
    core.headersSent = true;
    const reason = status === 503 ? 'Service Unavailable' : 'Internal Server Error';
    response.shouldKeepAlive = false;
    response.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': reason.length + 1 });
    response.end(`${reason}\n`);
  },
  awaitDrain(core) {
    (core.conn as ServerResponse).once('drain', onResponseDrain);
  },
};

registerProtocol('http', (context) => new HttpServer(context));
