/**
 * The uwsgi protocol on a `--socket`: one request per connection (nginx `uwsgi_pass`), the
 * vars block parsed straight into the env, the response written as raw HTTP bytes and ended by
 * closing the connection — byte for byte what uWSGI does (spec/wire.md §3).
 */
import { Socket } from 'node:net';
import { DRAIN, type Chunk } from '../../green/thread.js';
import type { Core, ResponseWriter } from '../core.js';
import { Environ } from '../environ.js';
import { tsgiError, type ErrorCode } from '../errors.js';
import { PushedInput } from '../input.js';
import { log } from '../logger.js';
import { DONE, NEED_MORE, UWSGI_ERRORS, UwsgiRequestReader, uwsgiErrorMessage } from './uwsgi-parser.js';
import { registerProtocol, type ProtocolContext, type ProtocolServer } from './registry.js';
import { findService } from './uwsgi-services.js';
import '../rpc.js';
import '../remote-signal.js';

const kConnection = Symbol('tsgi.uwsgi.connection');
type UwsgiSocket = Socket & { [kConnection]: UwsgiConnection };

const CLIENT_GONE = tsgiError('TSGI_ERR_CANCELLED', 'client disconnected');

/** One accepted connection: its core is taken at accept, as uWSGI's async mode does. */
class UwsgiConnection {
  core: Core | null;
  readonly env = new Environ();
  parsed = false;
  input: PushedInput | null = null;
  bodyLeft = 0;
  readonly acceptedAt = Date.now();

  constructor(readonly socket: UwsgiSocket, core: Core, readonly server: UwsgiServer) {
    this.core = core;
  }

  /** The request is answered or abandoned: the socket no longer drives the core. */
  detach(): void {
    this.core = null;
  }
}

class UwsgiServer implements ProtocolServer {
  readonly #readers: UwsgiRequestReader[];
  readonly #open = new Set<UwsgiConnection>();
  readonly #timeoutMs: number;
  readonly #sweeper: NodeJS.Timeout;

  constructor(readonly context: ProtocolContext) {
    const { options, scheduler } = context;
    this.#readers = scheduler.threads.map(() => new UwsgiRequestReader(options['buffer-size'], options['max-vars'] * 2));
    this.#timeoutMs = options['socket-timeout'] * 1000;
    // One sweep a second instead of a timer per connection: cheaper on the accept path.
    this.#sweeper = setInterval(() => this.#dropSlowClients(), Math.min(1000, this.#timeoutMs)).unref();
  }

  /** --socket-timeout: a connection that has not sent a whole packet by now is dropped. */
  #dropSlowClients(): void {
    const deadline = Date.now() - this.#timeoutMs;
    for (const connection of this.#open) {
      if (connection.parsed || connection.acceptedAt > deadline) continue;
      log(`uwsgi: closing connection from ${peer(connection)}: TSGI_ERR_REQUEST_TIMEOUT: no complete packet within --socket-timeout`);
      connection.socket.destroy();
    }
  }

  get connections(): number {
    return this.#open.size;
  }

  serve(fd: number): void {
    const core = this.context.scheduler.acquire();
    const socket = new Socket({ fd, readable: true, writable: true, allowHalfOpen: true }) as UwsgiSocket;
    if (core === null) return void socket.destroy(); // the acceptor only accepts with a free core
    const connection = new UwsgiConnection(socket, core, this);
    socket[kConnection] = connection;
    this.#open.add(connection);
    this.#readers[core.index]!.reset(connection.env);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
  }

  onRequest(connection: UwsgiConnection, chunk: Buffer): void {
    const core = connection.core!;
    const reader = this.#readers[core.index]!;
    const status = reader.push(chunk);
    if (status === NEED_MORE) return;
    if (status !== DONE) return this.reject(connection, UWSGI_ERRORS[status] as ErrorCode, uwsgiErrorMessage(status, reader));
    connection.parsed = true;
    if (reader.modifier1 !== 0 && reader.modifier1 !== 30) return this.#serveService(connection, reader);
    const env = connection.env;
    if (reader.modifier1 === 30) stripScriptName(env);
    if (env.SERVER_PROTOCOL === undefined) env.SERVER_PROTOCOL = 'HTTP/1.0';
    env['tsgi.url_scheme'] = urlScheme(env);
    if (reader.contentLength > 0) {
      connection.bodyLeft = reader.contentLength;
      connection.input = new PushedInput(reader.contentLength, () => connection.socket.resume());
      Environ.setInput(env, connection.input);
      if (reader.rest !== null) this.onBody(connection, reader.rest);
    }
    core.serve(env, UWSGI_WRITER, connection);
  }

  /** A ping, remote signal or RPC packet: answered by its service, then the connection closes. */
  #serveService(connection: UwsgiConnection, reader: UwsgiRequestReader): void {
    const service = findService(reader.modifier1);
    if (!service) return this.reject(connection, 'TSGI_ERR_UWSGI_MODIFIER', `modifier1 ${reader.modifier1} is not served on this socket`);
    const core = connection.core!;
    const finish = (bytes?: Buffer) => {
      if (connection.core !== core) return; // the client left meanwhile
      connection.detach();
      core.release();
      if (bytes) connection.socket.end(bytes);
      else connection.socket.destroy();
    };
    service({ modifier1: reader.modifier1, modifier2: reader.modifier2, payload: reader.payload, vars: connection.env }, { send: finish, drop: () => finish() });
  }

  onBody(connection: UwsgiConnection, chunk: Buffer): void {
    const input = connection.input;
    if (input === null || connection.bodyLeft === 0) return;
    const part = chunk.length > connection.bodyLeft ? chunk.subarray(0, connection.bodyLeft) : chunk;
    connection.bodyLeft -= part.length;
    if (!input.push(part)) connection.socket.pause();
    if (connection.bodyLeft === 0) input.end();
  }

  /** A malformed packet: one log line, that connection closed, nothing else touched. */
  reject(connection: UwsgiConnection, code: ErrorCode, why: string): void {
    log(`uwsgi: closing connection from ${peer(connection)}: ${code}: ${why}`);
    connection.socket.destroy();
  }

  closed(connection: UwsgiConnection): void {
    this.#open.delete(connection);
    const core = connection.core;
    if (core === null) return;
    connection.detach();
    if (core.env === null) core.release(); // still reading the packet: no request to halt
    else core.halt(CLIENT_GONE);
  }

  /** Every uwsgi connection carries one request and closes after it: nothing to cut short. */
  drain(): void {}

  destroyAll(): void {
    clearInterval(this.#sweeper);
    for (const connection of this.#open) connection.socket.destroy();
  }
}

function onData(this: UwsgiSocket, chunk: Buffer): void {
  const connection = this[kConnection];
  if (connection.core === null) return;
  if (connection.parsed) connection.server.onBody(connection, chunk);
  else connection.server.onRequest(connection, chunk);
}

/** nginx never half-closes an upstream connection: a FIN means the client is gone. */
function onEnd(this: UwsgiSocket): void {
  const connection = this[kConnection];
  if (connection.core === null) return void this.end();
  if (!connection.parsed) return connection.server.reject(connection, 'TSGI_ERR_UWSGI_TRUNCATED_VARS', 'connection closed in the middle of a packet');
  if (connection.bodyLeft > 0) connection.input!.destroy(tsgiError('TSGI_ERR_CANCELLED', 'client closed before sending the whole body'));
  this.destroy();
}

function onDrain(this: UwsgiSocket): void {
  const core = this[kConnection].core;
  if (core !== null && core.waiting === DRAIN) core.resume(DRAIN, undefined);
}

function onError(this: UwsgiSocket): void {
  // ECONNRESET/EPIPE: 'close' follows and halts the request.
}

function onClose(this: UwsgiSocket): void {
  const connection = this[kConnection];
  connection.server.closed(connection);
}

function peer(connection: UwsgiConnection): string {
  return connection.socket.remoteAddress ?? 'unix socket';
}

/** modifier1 30: PATH_INFO loses its SCRIPT_NAME prefix (uWSGI's wsgi_subhandler). */
function stripScriptName(env: Environ): void {
  const script = env.SCRIPT_NAME;
  const path = env.PATH_INFO;
  if (typeof script === 'string' && typeof path === 'string' && script !== '' && path.startsWith(script)) env.PATH_INFO = path.slice(script.length);
}

function urlScheme(env: Environ): string {
  const scheme = env.UWSGI_SCHEME;
  if (typeof scheme === 'string' && scheme !== '') return scheme;
  const https = env.HTTPS;
  return typeof https === 'string' && (/^on/i.test(https) || https === '1') ? 'https' : 'http';
}

/** The status line and headers, exactly as uWSGI writes them. */
function responseHead(core: Core): string {
  let head = `${core.env!.SERVER_PROTOCOL} ${core.status}\r\n`;
  const headers = core.headers;
  for (let i = 0; i < headers.length; i++) head += `${headers[i]![0]}: ${headers[i]![1]}\r\n`;
  return head + '\r\n';
}

/** Head and body in one buffer, so a whole small response is one write(2). */
function responseBytes(core: Core, body: Chunk | undefined): Buffer {
  const head = responseHead(core);
  const headLength = Buffer.byteLength(head, 'latin1');
  const bodyLength = body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  const bytes = Buffer.allocUnsafe(headLength + bodyLength);
  bytes.write(head, 0, 'latin1');
  if (typeof body === 'string') bytes.write(body, headLength, 'utf8');
  else if (body !== undefined) bytes.set(body, headLength);
  return bytes;
}

function endConnection(core: Core, bytes: Chunk | undefined): void {
  const connection = core.conn as UwsgiConnection;
  connection.detach();
  const socket = connection.socket;
  if (socket.destroyed) return;
  // As uWSGI, close as soon as the response is out rather than wait for the peer's FIN.
  socket.on('finish', onFinish);
  if (bytes === undefined) socket.end();
  else socket.end(bytes);
}

function onFinish(this: UwsgiSocket): void {
  this.destroy();
}

const UWSGI_WRITER: ResponseWriter = {
  send(core, chunk) {
    const socket = (core.conn as UwsgiConnection).socket;
    if (socket.destroyed) return true; // 'close' halts the thread
    if (core.headersSent) return socket.write(chunk);
    core.headersSent = true;
    return socket.write(responseBytes(core, chunk));
  },
  finish(core, last) {
    if (core.headersSent) return endConnection(core, last);
    core.headersSent = true;
    endConnection(core, responseBytes(core, last));
  },
  abort(core, status) {
    if (core.headersSent) {
      const connection = core.conn as UwsgiConnection;
      connection.detach();
      return void connection.socket.destroy();
    }
    core.headersSent = true;
    const reason = status === 503 ? 'Service Unavailable' : 'Internal Server Error';
    endConnection(core, `${core.env!.SERVER_PROTOCOL ?? 'HTTP/1.0'} ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${reason.length + 1}\r\n\r\n${reason}\n`);
  },
  awaitDrain(core) {
    (core.conn as UwsgiConnection).socket.once('drain', onDrain);
  },
};

registerProtocol('uwsgi', (context) => new UwsgiServer(context));
