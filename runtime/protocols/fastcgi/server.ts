/**
 * FastCGI 1.0 on `--fastcgi-socket` (or `--socket` with `--protocol fastcgi`): the responder
 * role as nginx `fastcgi_pass` and `cgi-fcgi` speak it. One request at a time per connection
 * (a second BEGIN_REQUEST gets END_REQUEST/CANT_MPX_CONN); with FCGI_KEEP_CONN the connection
 * stays open for the next one. A core is taken when a request's params are complete, not at
 * accept, so idle keep-alive connections hold no core.
 *
 * The response is CGI-style (`Status: 200 OK`, the headers, a blank line, the body) in STDOUT
 * records of at most 65,535 bytes, then an empty STDOUT record and END_REQUEST.
 *
 * The env is the params exactly as sent, with one addition so that an app sees the same env
 * behind `uwsgi_params` and `fastcgi_params`: without a PATH_INFO param (nginx's stock
 * fastcgi_params sends none, and sets SCRIPT_NAME to the whole path, the PHP convention),
 * PATH_INFO is DOCUMENT_URI (else the decoded path of REQUEST_URI) minus SCRIPT_NAME when that
 * is a mount-point prefix; a SCRIPT_NAME equal to the whole path becomes ''.
 */
import { Socket } from 'node:net';
import type { Chunk } from '../../../green/thread.js';
import type { Core, ResponseWriter } from '../../worker/core.js';
import { Environ } from '../../worker/environ.js';
import { tsgiError, type ErrorCode } from '../../errors.js';
import type { PushedInput } from '../../worker/input.js';
import { log } from '../../logger.js';
import {
  ABORT, BEGIN, FASTCGI_ERRORS, FastcgiParser, FCGI_END_REQUEST, FCGI_GET_VALUES_RESULT, FCGI_HEADER_LEN,
  FCGI_MAX_CONTENT, FCGI_REQUEST_COMPLETE, FCGI_STDOUT, FCGI_UNKNOWN_ROLE, FCGI_UNKNOWN_TYPE, FCGI_VERSION_1,
  GET_VALUES, NEED_MORE, PARAMS, REFUSE, STDIN, UNKNOWN_TYPE,
} from './parser.js';
import { registerProtocol, type ProtocolContext, type ProtocolServer } from '../registry.js';
import { decodePath, leadingDigits, urlScheme } from '../cgi.js';
import { CLIENT_GONE, byteLength, errorResponse, responseHead, resumeDrained } from '../response.js';
import { limitPostOf, logLimitPost } from '../limits.js';
import { expectBody, feedBody, type BodySource } from '../body.js';
import { CoreQueue, type QueueOwner } from '../core-queue.js';

const kConnection = Symbol('tsgi.fastcgi.connection');
type FastcgiSocket = Socket & { [kConnection]: FastcgiConnection };

const ABORTED = tsgiError('TSGI_ERR_CANCELLED', 'FastCGI ABORT_REQUEST');

/** One accepted connection and the one request it may have in flight. */
class FastcgiConnection implements BodySource {
  readonly parser: FastcgiParser;
  /** The request being served (0: none) and its FCGI_KEEP_CONN. */
  requestId = 0;
  keepConn = false;
  /** Set once the params are complete; the core once one was free. */
  env: Environ | null = null;
  core: Core | null = null;
  input: PushedInput | null = null;
  bodyLeft = 0;
  /** A STDOUT record went out for this request (the stream then needs its empty end record). */
  stdoutSent = false;
  /** The web server sent ABORT_REQUEST: the halt answers with END_REQUEST only. */
  aborted = false;
  /** Inside the halt that #onAbort started (it writes END_REQUEST itself afterwards). */
  aborting = false;
  /** We ended the socket: whatever still arrives is ignored. */
  ended = false;
  /** Whether the --socket-timeout timer is armed. */
  timing = true;
  /** A TSGI_ERR_RESERVED_VAR line was logged: at most one per connection, however many requests. */
  reservedLogged = false;

  constructor(readonly socket: FastcgiSocket, readonly server: FastcgiServer) {
    const { options } = server.context;
    this.parser = new FastcgiParser(options['buffer-size'], options['max-vars'] * 2, newEnviron);
  }

  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
    this.server.armTimeout(this); // the body may stall again from now on
  }

  write(bytes: Buffer): void {
    if (!this.ended && !this.socket.destroyed) this.socket.write(bytes);
  }

  /** The response is on its way (`bytes` ends with END_REQUEST): ready for the next request or closed. */
  endResponse(bytes: Buffer): void {
    const hadInput = this.input !== null;
    this.requestId = 0;
    this.env = null;
    this.core = null;
    this.input = null;
    this.bodyLeft = 0;
    this.stdoutSent = false;
    this.aborted = false;
    this.parser.endRequest();
    const socket = this.socket;
    if (this.ended || socket.destroyed) return;
    if (!this.keepConn || this.server.draining) return this.end(bytes);
    socket.write(bytes);
    if (hadInput) socket.resume(); // a body the app left unread may have paused reading
  }

  /** Closes after `bytes` (FastCGI: without FCGI_KEEP_CONN the application closes). */
  end(bytes?: Buffer): void {
    this.ended = true;
    // The peer answers our FIN with its own ('end' destroys the socket); a peer that does not is cut off.
    this.socket.setTimeout(this.server.timeoutMs);
    if (bytes === undefined) this.socket.end();
    else this.socket.end(bytes);
  }
}

function newEnviron(): Record<string, unknown> {
  return new Environ();
}

class FastcgiServer implements ProtocolServer, QueueOwner<FastcgiConnection> {
  readonly #open = new Set<FastcgiConnection>();
  readonly #queue: CoreQueue<FastcgiConnection>;
  readonly timeoutMs: number;
  /** --limit-post in bytes (Infinity: none). */
  readonly limitPost: number;
  draining = false;

  constructor(readonly context: ProtocolContext) {
    this.#queue = new CoreQueue(context, this);
    this.limitPost = limitPostOf(context.options);
    this.timeoutMs = context.options['socket-timeout'] * 1000;
  }

  get connections(): number {
    return this.#open.size;
  }

  serve(fd: number): void {
    const socket = new Socket({ fd, readable: true, writable: true, allowHalfOpen: true }) as FastcgiSocket;
    const connection = new FastcgiConnection(socket, this);
    socket[kConnection] = connection;
    this.#open.add(connection);
    socket.setTimeout(this.timeoutMs);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('timeout', onTimeout);
    socket.on('drain', onDrain);
    socket.on('error', onError);
    socket.on('close', onClose);
  }

  onData(connection: FastcgiConnection, chunk: Buffer): void {
    const parser = connection.parser;
    parser.push(chunk);
    for (;;) {
      const status = parser.next();
      switch (status) {
        case NEED_MORE:
          return this.armTimeout(connection);
        case BEGIN:
          connection.requestId = parser.requestId;
          connection.keepConn = parser.keepConn;
          break;
        case PARAMS:
          this.#onParams(connection);
          break;
        case STDIN:
          this.#onStdin(connection, parser.content);
          break;
        case ABORT:
          this.#onAbort(connection);
          break;
        case GET_VALUES:
          connection.write(getValuesResult(parser.names, this.context));
          break;
        case UNKNOWN_TYPE:
          connection.write(unknownTypeRecord(parser.recordType));
          break;
        case REFUSE:
          connection.write(endRequestRecord(parser.refusedId, parser.protocolStatus));
          // Refusing the only request of a connection without FCGI_KEEP_CONN ends it.
          if (parser.protocolStatus === FCGI_UNKNOWN_ROLE && connection.requestId === 0 && !parser.keepConn) connection.end();
          break;
        default:
          return this.reject(connection, FASTCGI_ERRORS[status] as ErrorCode, parser.reason);
      }
      if (connection.ended || connection.socket.destroyed) return;
    }
  }

  /**
   * A partial request must complete within --socket-timeout, and a body must not stop for as
   * long (unless we paused it: the app reads slower than the web server sends); a running or
   * idle one has no limit. The socket's own idle timer: node refreshes it per read, no timer per record.
   */
  armTimeout(connection: FastcgiConnection): void {
    const parser = connection.parser;
    const waiting = connection.env === null
      ? parser.partial || parser.readingParams
      : connection.bodyLeft > 0 && !connection.socket.isPaused();
    if (waiting === connection.timing) return;
    connection.timing = waiting;
    connection.socket.setTimeout(waiting ? this.timeoutMs : 0);
  }

  #onParams(connection: FastcgiConnection): void {
    const parser = connection.parser;
    const env = parser.vars as Environ;
    if (parser.skipped.length > 0 && !connection.reservedLogged) {
      connection.reservedLogged = true;
      log(`fastcgi: connection from ${peer(connection)}: TSGI_ERR_RESERVED_VAR: ignored params ${parser.skipped.join(', ')} (tsgi.* keys come from tsgi only)`);
    }
    completeEnviron(env);
    const length = leadingDigits(env.CONTENT_LENGTH);
    if (length > this.limitPost) return this.#refuseTooLarge(connection, length);
    if (length > 0) {
      Environ.setInput(env, expectBody(connection, length));
    }
    connection.env = env;
    this.#queue.serveOrQueue(connection);
  }

  /**
   * --limit-post: 413 before the app runs. The connection closes after it (FCGI_KEEP_CONN or
   * not): the STDIN of the refused body would otherwise have to be read and dropped first.
   */
  #refuseTooLarge(connection: FastcgiConnection, length: number): void {
    logLimitPost('fastcgi', `connection from ${peer(connection)}`, length, this.limitPost);
    connection.keepConn = false;
    connection.endResponse(stdoutRecords(connection.requestId, errorResponse('Status:', 413), undefined, true));
  }

  waitsForCore(connection: FastcgiConnection): boolean {
    return connection.env !== null && !connection.socket.destroyed;
  }

  serveOn(connection: FastcgiConnection, core: Core): void {
    connection.core = core;
    core.serve(connection.env!, FASTCGI_WRITER, connection);
  }

  /** Starts the oldest request that waited for a core; true if it took one. */
  serveQueued(): boolean {
    return this.#queue.serveNext();
  }

  #onStdin(connection: FastcgiConnection, content: Buffer): void {
    const input = connection.input;
    if (input === null || connection.bodyLeft === 0) return; // no body announced, or all of it is in
    if (content.length === 0) {
      const missing = connection.bodyLeft;
      connection.bodyLeft = 0;
      // The one line for it: an app that lets the error through answers 400 without a stack trace.
      log(`fastcgi: connection from ${peer(connection)}: TSGI_ERR_FASTCGI_BODY: STDIN ended ${missing} bytes short of CONTENT_LENGTH ${input.length}`);
      return input.destroy(tsgiError('TSGI_ERR_FASTCGI_BODY', `the body ended ${missing} bytes short of CONTENT_LENGTH ${input.length}`));
    }
    feedBody(connection, content);
  }

  /** ABORT_REQUEST: halt the green thread (its finally blocks run), answer END_REQUEST. */
  #onAbort(connection: FastcgiConnection): void {
    const core = connection.core;
    if (core !== null) {
      connection.aborted = true;
      connection.aborting = true;
      core.halt(ABORTED);
      connection.aborting = false;
      // END_REQUEST means the app is done: it goes out after the thread's finally blocks ran.
      // (A halt deferred because the thread was mid-step answers from the writer instead.)
      if (connection.core !== null) return;
    } else {
      this.#queue.remove(connection);
    }
    connection.endResponse(abortedEnd(connection));
  }

  /** The body stopped coming for --socket-timeout: its reader fails (an app that lets that through answers 408). */
  bodyTimeout(connection: FastcgiConnection): void {
    log(`fastcgi: connection from ${peer(connection)}: TSGI_ERR_REQUEST_TIMEOUT: ${connection.bodyLeft} body bytes still missing after --socket-timeout without one`);
    const input = connection.input!;
    connection.bodyLeft = 0; // STDIN that still arrives is dropped
    connection.keepConn = false; // and the connection closes after the response
    connection.timing = false;
    connection.socket.setTimeout(0);
    input.destroy(tsgiError('TSGI_ERR_REQUEST_TIMEOUT', `no request body bytes within --socket-timeout (${this.timeoutMs / 1000} s)`));
  }

  /** Malformed records: one log line, that connection closed, nothing else touched. */
  reject(connection: FastcgiConnection, code: ErrorCode, why: string): void {
    log(`fastcgi: closing connection from ${peer(connection)}: ${code}: ${why}`);
    connection.socket.destroy();
  }

  closed(connection: FastcgiConnection): void {
    this.#open.delete(connection);
    this.#queue.remove(connection);
    const core = connection.core;
    if (core !== null) core.halt(CLIENT_GONE);
    else if (connection.input !== null && connection.bodyLeft > 0) connection.input.destroy(CLIENT_GONE);
  }

  /** Graceful stop: idle connections close now, busy ones after their response. */
  drain(): void {
    this.draining = true;
    for (const connection of this.#open) {
      if (connection.requestId === 0 && !connection.parser.partial) connection.socket.destroy();
    }
  }

  destroyAll(): void {
    for (const connection of this.#open) connection.socket.destroy();
  }
}

function onData(this: FastcgiSocket, chunk: Buffer): void {
  const connection = this[kConnection];
  if (!connection.ended) connection.server.onData(connection, chunk);
}

/** nginx and cgi-fcgi never half-close: a FIN means the web server is gone. */
function onEnd(this: FastcgiSocket): void {
  const connection = this[kConnection];
  const parser = connection.parser;
  if (!connection.ended && (parser.partial || parser.readingParams)) {
    log(`fastcgi: closing connection from ${peer(connection)}: TSGI_ERR_FASTCGI_TRUNCATED: connection closed in the middle of ${parser.partial ? 'a record' : 'the params of a request'}`);
  }
  this.destroy();
}

function onTimeout(this: FastcgiSocket): void {
  const connection = this[kConnection];
  if (!connection.ended && connection.env !== null && connection.input !== null && connection.bodyLeft > 0) return connection.server.bodyTimeout(connection);
  if (!connection.ended) log(`fastcgi: closing connection from ${peer(connection)}: TSGI_ERR_REQUEST_TIMEOUT: no complete request within --socket-timeout`);
  this.destroy();
}

function onDrain(this: FastcgiSocket): void {
  resumeDrained(this[kConnection].core);
}

function onError(this: FastcgiSocket): void {
  // ECONNRESET/EPIPE: 'close' follows and halts the request.
}

function onClose(this: FastcgiSocket): void {
  const connection = this[kConnection];
  connection.server.closed(connection);
}

function peer(connection: FastcgiConnection): string {
  return connection.socket.remoteAddress ?? 'unix socket';
}

// ---------------------------------------------------------------- env

function completeEnviron(env: Environ): void {
  if (env.PATH_INFO === undefined) derivePathInfo(env);
  if (env.SERVER_PROTOCOL === undefined) env.SERVER_PROTOCOL = 'HTTP/1.0';
  env['tsgi.url_scheme'] = urlScheme(env);
}

/** See the module comment: the PATH_INFO nginx's stock fastcgi_params leaves out. */
function derivePathInfo(env: Environ): void {
  const documentUri = env.DOCUMENT_URI;
  let path = typeof documentUri === 'string' ? documentUri : requestPath(env.REQUEST_URI);
  const script = env.SCRIPT_NAME;
  if (typeof script === 'string' && script !== '') {
    if (script === path) env.SCRIPT_NAME = '';
    else if (path.startsWith(script) && path.charCodeAt(script.length) === 47 /* / */) path = path.slice(script.length);
  }
  env.PATH_INFO = path;
}

/** The percent-decoded path of a request URI (one char per byte, as nginx's $document_uri). */
function requestPath(uri: unknown): string {
  if (typeof uri !== 'string') return '';
  const query = uri.indexOf('?');
  return decodePath(query < 0 ? uri : uri.slice(0, query));
}

// ---------------------------------------------------------------- records out

function writeHeader(buf: Buffer, at: number, type: number, id: number, length: number): void {
  buf[at] = FCGI_VERSION_1;
  buf[at + 1] = type;
  buf[at + 2] = id >> 8;
  buf[at + 3] = id & 0xff;
  buf[at + 4] = length >> 8;
  buf[at + 5] = length & 0xff;
  buf[at + 6] = 0; // no padding: alignment is only a recommendation
  buf[at + 7] = 0;
}

const END_RECORDS_SIZE = FCGI_HEADER_LEN + 2 * FCGI_HEADER_LEN; // empty STDOUT + END_REQUEST (8 + 8 body)

/** The empty STDOUT record that closes the stream (if `stdout`), then END_REQUEST. */
function writeEnd(buf: Buffer, at: number, id: number, stdout: boolean, protocolStatus: number): number {
  if (stdout) {
    writeHeader(buf, at, FCGI_STDOUT, id, 0);
    at += FCGI_HEADER_LEN;
  }
  writeHeader(buf, at, FCGI_END_REQUEST, id, 8);
  buf.fill(0, at + FCGI_HEADER_LEN, at + 2 * FCGI_HEADER_LEN); // appStatus 0, reserved
  buf[at + FCGI_HEADER_LEN + 4] = protocolStatus;
  return at + 2 * FCGI_HEADER_LEN;
}

/** After ABORT_REQUEST: the empty STDOUT record if the stream was opened, then END_REQUEST. */
function abortedEnd(connection: FastcgiConnection): Buffer {
  const buf = Buffer.allocUnsafe(END_RECORDS_SIZE - (connection.stdoutSent ? 0 : FCGI_HEADER_LEN));
  writeEnd(buf, 0, connection.requestId, connection.stdoutSent, FCGI_REQUEST_COMPLETE);
  return buf;
}

function endRequestRecord(id: number, protocolStatus: number): Buffer {
  const buf = Buffer.allocUnsafe(2 * FCGI_HEADER_LEN);
  writeEnd(buf, 0, id, false, protocolStatus);
  return buf;
}

/**
 * `head` + `body` as STDOUT records of at most 65,535 bytes, followed by the end records when
 * `end`. Never an empty STDOUT record in the middle: that would end the stream.
 */
function stdoutRecords(id: number, head: string | null, body: Chunk | undefined, end: boolean): Buffer {
  const headLength = head === null ? 0 : head.length; // latin1: one byte per char
  const bodyLength = byteLength(body);
  const payload = headLength + bodyLength;
  const records = Math.ceil(payload / FCGI_MAX_CONTENT);
  const buf = Buffer.allocUnsafe(payload + records * FCGI_HEADER_LEN + (end ? END_RECORDS_SIZE : 0));
  if (records === 1) {
    writeHeader(buf, 0, FCGI_STDOUT, id, payload);
    if (head !== null) buf.write(head, FCGI_HEADER_LEN, 'latin1');
    if (typeof body === 'string') buf.write(body, FCGI_HEADER_LEN + headLength, 'utf8');
    else if (body !== undefined) buf.set(body, FCGI_HEADER_LEN + headLength);
  } else if (records > 1) {
    const parts: Buffer[] = [];
    if (head !== null) parts.push(Buffer.from(head, 'latin1'));
    if (body !== undefined) parts.push(typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    let at = 0;
    for (let from = 0; from < payload; from += FCGI_MAX_CONTENT) {
      const size = Math.min(FCGI_MAX_CONTENT, payload - from);
      writeHeader(buf, at, FCGI_STDOUT, id, size);
      bytes.copy(buf, at + FCGI_HEADER_LEN, from, from + size);
      at += FCGI_HEADER_LEN + size;
    }
  }
  if (end) writeEnd(buf, buf.length - END_RECORDS_SIZE, id, true, FCGI_REQUEST_COMPLETE);
  return buf;
}

/** Name-value pairs (1- or 4-byte lengths) in one management record. */
function managementRecord(type: number, content: Buffer): Buffer {
  const buf = Buffer.allocUnsafe(FCGI_HEADER_LEN + content.length);
  writeHeader(buf, 0, type, 0, content.length);
  content.copy(buf, FCGI_HEADER_LEN);
  return buf;
}

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes = Buffer.allocUnsafe(4);
  bytes.writeUInt32BE((length | 0x80000000) >>> 0);
  return bytes;
}

/** GET_VALUES_RESULT for the variables we know among those asked for (the others are left out). */
function getValuesResult(names: readonly string[], context: ProtocolContext): Buffer {
  const { options } = context;
  const requests = String(options.async * options.processes);
  const known: Record<string, string> = { FCGI_MAX_CONNS: requests, FCGI_MAX_REQS: requests, FCGI_MPXS_CONNS: '0' };
  const parts: Buffer[] = [];
  for (const name of names) {
    if (!Object.hasOwn(known, name)) continue;
    const value = known[name]!;
    parts.push(encodeLength(name.length), encodeLength(value.length), Buffer.from(name + value, 'latin1'));
  }
  return managementRecord(FCGI_GET_VALUES_RESULT, Buffer.concat(parts));
}

function unknownTypeRecord(type: number): Buffer {
  const body = Buffer.alloc(8);
  body[0] = type;
  return managementRecord(FCGI_UNKNOWN_TYPE, body);
}

// ---------------------------------------------------------------- writer

function takeHead(core: Core): string | null {
  if (core.headersSent) return null;
  core.headersSent = true;
  // A CGI response: `Status:`, not an HTTP status line.
  return responseHead('Status:', core);
}

const FASTCGI_WRITER: ResponseWriter = {
  send(core, chunk) {
    const connection = core.conn as FastcgiConnection;
    const socket = connection.socket;
    if (socket.destroyed) return true; // 'close' halts the thread
    const head = takeHead(core);
    if (head === null && (typeof chunk === 'string' ? chunk.length : chunk.byteLength) === 0) return true;
    connection.stdoutSent = true;
    return socket.write(stdoutRecords(connection.requestId, head, chunk, false));
  },
  finish(core, last) {
    const connection = core.conn as FastcgiConnection;
    connection.endResponse(stdoutRecords(connection.requestId, takeHead(core), last, true));
  },
  abort(core, status) {
    const connection = core.conn as FastcgiConnection;
    if (connection.aborted) {
      // The web server asked for it: #onAbort answers once the halt has run the finally blocks.
      connection.core = null;
      if (!connection.aborting) connection.endResponse(abortedEnd(connection));
      return;
    }
    if (core.headersSent) {
      // Ending the records normally would pass a cut-off body as complete: break the connection.
      connection.core = null;
      return void connection.socket.destroy();
    }
    core.headersSent = true;
    connection.endResponse(stdoutRecords(connection.requestId, errorResponse('Status:', status), undefined, true));
  },
  awaitDrain() {
    // Every FastCGI socket has a 'drain' listener (onDrain) that resumes its core.
  },
};

registerProtocol('fastcgi', (context) => new FastcgiServer(context));
