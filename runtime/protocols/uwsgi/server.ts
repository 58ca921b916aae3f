/**
 * The uwsgi protocol on a `--socket`: one request per connection (nginx `uwsgi_pass`), the
 * vars block parsed straight into the env, the response written as raw HTTP bytes and ended by
 * closing the connection — byte for byte what uWSGI does (uWSGI's `core/protocol.c`).
 *
 * A link is the exception: a packet with modifier2 LINK_MODIFIER2 comes from this instance's own
 * HTTP router, and its connection carries the next request once a response framed by its
 * Content-Length is out (link.ts), saving a connect, an accept and two closes
 * per request. Any other response ends the link as it ends any connection.
 *
 * The connections are the addon's (native ConnServer), not net.Sockets: accept, the first read
 * right after accept, writes and close happen in C, and JS sees only bytes in and hands bytes
 * out. A net.Socket costs ~3× uWSGI's whole per-request CPU on this connection-per-request path.
 */
import type { Chunk } from '../../../green/thread.js';
import type { Core, ResponseWriter } from '../../worker/core.js';
import { Environ } from '../../worker/environ.js';
import { tsgiError, type ErrorCode } from '../../errors.js';
import type { PushedInput } from '../../worker/input.js';
import { log } from '../../logger.js';
import { native, type ConnServer } from '../../native.js';
import { DONE, NEED_MORE, UWSGI_ERRORS, UwsgiRequestReader, uwsgiErrorMessage } from './parser.js';
import { LINK_MODIFIER2, linkHello } from './packet.js';
import { closing, LINK_IDLE_MS, linkHead, linkRequest, linkSurvives, outgoing, type LinkEnd } from './link.js';
import { threadId } from 'node:worker_threads';
import { registerProtocol, type Listener, type ListenHooks, type ProtocolContext, type ProtocolServer } from '../registry.js';
import { findService } from '../../services/registry.js';
import { urlScheme } from '../cgi.js';
import { CLIENT_GONE, byteLength, errorResponse, responseHead, resumeDrained } from '../response.js';
import { limitPostOf, logLimitPost } from '../limits.js';
import { expectBody, expectChunkedBody, feedBody, isChunkedRequest, type BodySource } from '../body.js';
import '../../services/rpc-service.js';
import '../../services/signal-service.js';
import '../../services/cache-service.js';
import '../../services/spool-service.js';

/** One accepted connection: it holds a core from its first bytes to its close (a link: to its response's end). */
class UwsgiConnection implements BodySource, LinkEnd {
  core: Core | null = null;
  env = new Environ();
  parsed = false;
  input: PushedInput | null = null;
  bodyLeft = 0;
  /** Accepted, or (a link) its last response went out, or its next packet began: --socket-timeout counts from here. */
  since = Date.now();
  /** The router's link (LINK_MODIFIER2): it may carry another request after this one. */
  link = false;
  /** Body bytes of the last request the app did not wait for: they arrive before the next packet and are dropped. */
  skip = 0;
  /** The link's first bytes (linkHello) are out. */
  greeted = false;
  /** Body bytes of a streamed response sent so far (links only: framing is checked at its end). */
  bodySent = 0;
  /** Bytes that arrived while the connection waited for a core, replayed once it has one. */
  queued: Buffer[] | null = null;

  constructor(readonly fd: number, readonly conns: ConnServer, readonly server: UwsgiServer) {}

  /** A link between requests: nothing of a next packet has arrived. */
  get idleLink(): boolean {
    return this.link && this.core === null && this.queued === null && !this.parsed;
  }

  pauseReading(): void {
    this.conns.pauseReading(this.fd);
  }

  resumeReading(): void {
    this.conns.resumeReading(this.fd);
  }
}

class UwsgiServer implements ProtocolServer {
  readonly #readers: UwsgiRequestReader[];
  /** Open connections by fd (fds are small integers: an array beats a Map here). */
  readonly #byFd: Array<UwsgiConnection | undefined> = [];
  #open = 0;
  /** Connections whose first bytes arrived while every core was busy. */
  readonly #waiting: UwsgiConnection[] = [];
  readonly #listeners: ConnServer[] = [];
  readonly #timeoutMs: number;
  readonly #sweeper: NodeJS.Timeout;
  /** --limit-post in bytes (Infinity: none). */
  readonly #limitPost: number;

  /** What this worker (thread) writes first on a new link. */
  readonly hello: Buffer;
  /** The worker stops: links end after their response. */
  draining = false;

  constructor(readonly context: ProtocolContext) {
    const { options, scheduler } = context;
    this.hello = linkHello(process.pid, threadId, scheduler.threads.length);
    this.#limitPost = limitPostOf(options);
    this.#readers = scheduler.threads.map(() => new UwsgiRequestReader(options['buffer-size'], options['max-vars'] * 2));
    this.#timeoutMs = options['socket-timeout'] * 1000;
    // One sweep a second instead of a timer per connection: cheaper on the accept path.
    this.#sweeper = setInterval(() => this.#dropSlowClients(), Math.min(1000, this.#timeoutMs)).unref();
  }

  get connections(): number {
    return this.#open;
  }

  /** Accepts on `fd` with the addon's connection server. */
  listen(fd: number, _label: string, hooks: ListenHooks): Listener {
    const conns: ConnServer = new native.ConnServer(
      fd,
      (connFd, chunk) => this.#onData(conns, connFd, chunk, hooks),
      (connFd) => resumeDrained(this.#byFd[connFd]?.core),
    );
    this.#listeners.push(conns);
    conns.start();
    return conns;
  }

  #onData(conns: ConnServer, fd: number, chunk: Buffer | null, hooks: ListenHooks): void {
    let connection = this.#byFd[fd];
    if (chunk === null) {
      if (connection !== undefined) this.#closed(connection);
      return;
    }
    if (connection === undefined) {
      connection = new UwsgiConnection(fd, conns, this);
      this.#byFd[fd] = connection;
      this.#open++;
    }
    if (connection.skip > 0) {
      const skipped = Math.min(connection.skip, chunk.length);
      connection.skip -= skipped;
      chunk = chunk.subarray(skipped);
    }
    if (connection.core === null && connection.queued === null && !connection.parsed) {
      // Accepted, nothing sent yet: no core for it until it speaks (--socket-timeout drops it).
      if (chunk.length === 0) return;
      if (connection.link) connection.since = Date.now(); // its next packet's --socket-timeout
      if (!this.#take(connection)) {
        connection.queued = [chunk];
        this.#waiting.push(connection);
        return hooks.onFull();
      }
      // The last core is taken: new connections wait in the kernel backlog, for us or a sibling.
      if (!hooks.canAccept()) for (const listener of this.#listeners) listener.pause();
    }
    if (connection.core !== null) this.#feed(connection, chunk);
    else connection.queued?.push(chunk); // still waiting for a core (else: answered already)
  }

  #feed(connection: UwsgiConnection, chunk: Buffer): void {
    if (connection.parsed) feedBody(connection, chunk);
    else this.#onRequest(connection, chunk);
  }

  /** Gives the connection a core; false when every core is busy. */
  #take(connection: UwsgiConnection): boolean {
    const core = this.context.scheduler.acquire();
    if (core === null) return false;
    connection.core = core;
    this.#readers[core.index]!.reset(connection.env);
    return true;
  }

  serveQueued(): boolean {
    const next = this.#waiting[0];
    if (next === undefined || !this.#take(next)) return false;
    this.#waiting.shift();
    const chunks = next.queued!;
    next.queued = null;
    for (const chunk of chunks) if (next.core !== null) this.#feed(next, chunk);
    return true;
  }

  #onRequest(connection: UwsgiConnection, chunk: Buffer): void {
    const core = connection.core!;
    const reader = this.#readers[core.index]!;
    const status = reader.push(chunk);
    if (status === NEED_MORE) return;
    if (status !== DONE) return this.#reject(connection, UWSGI_ERRORS[status] as ErrorCode, uwsgiErrorMessage(status, reader));
    connection.parsed = true;
    // One request per connection: this is the one line per connection.
    if (reader.skipped.length > 0) log(`uwsgi: connection fd ${connection.fd}: TSGI_ERR_RESERVED_VAR: ignored vars ${reader.skipped.join(', ')} (tsgi.* keys come from tsgi only)`);
    if (reader.modifier1 !== 0 && reader.modifier1 !== 30) return this.#serveService(connection, reader);
    connection.link = reader.modifier2 === LINK_MODIFIER2;
    const env = connection.env;
    if (reader.modifier1 === 30) stripScriptName(env);
    if (env.SERVER_PROTOCOL === undefined) env.SERVER_PROTOCOL = 'HTTP/1.0';
    env['tsgi.url_scheme'] = urlScheme(env);
    if (reader.contentLength > this.#limitPost) return this.#refuseTooLarge(connection, reader.contentLength);
    if (reader.contentLength > 0 || isChunkedRequest(env)) {
      Environ.setInput(env, reader.contentLength > 0 ? expectBody(connection, reader.contentLength) : expectChunkedBody(connection));
      if (reader.rest !== null) feedBody(connection, reader.rest);
    }
    core.serve(env, UWSGI_WRITER, connection);
  }

  /** A ping, remote signal or RPC packet: answered by its service, then the connection closes. */
  #serveService(connection: UwsgiConnection, reader: UwsgiRequestReader): void {
    const service = findService(reader.modifier1);
    if (!service) return this.#reject(connection, 'TSGI_ERR_UWSGI_MODIFIER', `modifier1 ${reader.modifier1} is not served on this socket`);
    const core = connection.core!;
    const finish = (bytes?: Buffer) => {
      if (connection.core !== core) return; // the client left meanwhile
      if (bytes) end(connection, bytes);
      else destroy(connection);
      core.release();
    };
    const readBody = (length: number): Promise<Buffer> => {
      const input = expectBody(connection, length);
      if (reader.rest !== null) feedBody(connection, reader.rest);
      return input.read();
    };
    service({ modifier1: reader.modifier1, modifier2: reader.modifier2, payload: reader.payload, vars: connection.env, readBody }, { send: finish, drop: () => finish() });
  }

  /** --limit-post: 413 before the app runs and before the body is read; the connection closes. */
  #refuseTooLarge(connection: UwsgiConnection, length: number): void {
    logLimitPost('uwsgi', `connection fd ${connection.fd}`, length, this.#limitPost);
    const core = connection.core;
    end(connection, outgoing(connection, Buffer.from(errorResponse(connection.env.SERVER_PROTOCOL as string, 413, closing(connection)), 'latin1')));
    core?.release();
  }

  /** A malformed packet: one log line, that connection closed, nothing else touched. */
  #reject(connection: UwsgiConnection, code: ErrorCode, why: string): void {
    log(`uwsgi: closing connection fd ${connection.fd}: ${code}: ${why}`);
    const core = connection.core;
    destroy(connection);
    core?.release();
  }

  /** Forgets a connection whose fd is closed (by us or by the peer). */
  forget(connection: UwsgiConnection): void {
    if (this.#byFd[connection.fd] !== connection) return;
    this.#byFd[connection.fd] = undefined;
    this.#open--;
  }

  /** The peer closed or reset: a request still running is halted. */
  #closed(connection: UwsgiConnection): void {
    this.forget(connection);
    const core = connection.core;
    connection.core = null;
    if (core === null) return this.#unqueue(connection);
    if (!connection.parsed) {
      log(`uwsgi: closing connection fd ${connection.fd}: TSGI_ERR_UWSGI_TRUNCATED_VARS: connection closed in the middle of a packet`);
      return core.release();
    }
    connection.input?.destroy(tsgiError('TSGI_ERR_CANCELLED', 'client closed before sending the whole body'));
    if (core.env === null) core.release(); // a service call still pending
    else core.halt(CLIENT_GONE);
  }

  #unqueue(connection: UwsgiConnection): void {
    connection.queued = null;
    const at = this.#waiting.indexOf(connection);
    if (at >= 0) this.#waiting.splice(at, 1);
  }

  /**
   * --socket-timeout: a connection that has not sent a whole packet by now is dropped; a body
   * that stalls for as long fails the app's read (uWSGI's read timeout on wsgi.input).
   */
  #dropSlowClients(): void {
    const now = Date.now();
    const deadline = now - this.#timeoutMs;
    for (const connection of this.#byFd) {
      if (connection === undefined) continue;
      if (connection.parsed) {
        const input = connection.input;
        if (input !== null && connection.bodyLeft > 0 && input.stalled(now, this.#timeoutMs)) this.#bodyTimeout(connection, input);
        continue;
      }
      const idleLink = connection.idleLink;
      if (connection.since > (idleLink ? now - LINK_IDLE_MS : deadline)) continue;
      if (idleLink) {
        destroy(connection);
        continue;
      }
      log(`uwsgi: closing connection fd ${connection.fd}: TSGI_ERR_REQUEST_TIMEOUT: no complete packet within --socket-timeout`);
      const core = connection.core;
      destroy(connection);
      if (core === null) this.#unqueue(connection);
      else core.release();
    }
  }

  /** The body stopped coming: its reader fails (an app that lets that through answers 408). */
  #bodyTimeout(connection: UwsgiConnection, input: PushedInput): void {
    log(`uwsgi: connection fd ${connection.fd}: TSGI_ERR_REQUEST_TIMEOUT: ${connection.bodyLeft} body bytes still missing after --socket-timeout without one`);
    connection.bodyLeft = 0; // what still arrives is dropped
    input.destroy(tsgiError('TSGI_ERR_REQUEST_TIMEOUT', `no request body bytes within --socket-timeout (${this.#timeoutMs / 1000} s)`));
  }

  /** The worker stops: idle links close now, busy ones after their response (which says Connection: close). */
  drain(): void {
    this.draining = true;
    for (const connection of this.#byFd) {
      if (connection?.idleLink) destroy(connection);
    }
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

/** The response went out whole on a link: the connection waits for its next packet, with a fresh env. */
function relink(connection: UwsgiConnection): void {
  connection.core = null;
  connection.parsed = false;
  connection.skip = connection.bodyLeft; // a body the app did not read to its end is still coming
  connection.bodyLeft = 0;
  connection.input = null;
  connection.env = new Environ();
  connection.bodySent = 0;
  connection.since = Date.now();
  connection.resumeReading(); // a body the app stopped reading paused it
}

/** Closes the connection once the queued bytes are out; the core is no longer tied to it. */
function end(connection: UwsgiConnection, bytes: Buffer | undefined): void {
  connection.core = null;
  connection.server.forget(connection);
  connection.conns.end(connection.fd, bytes);
}

function destroy(connection: UwsgiConnection): void {
  connection.core = null;
  connection.server.forget(connection);
  connection.conns.destroy(connection.fd);
}

/** modifier1 30: PATH_INFO loses its SCRIPT_NAME prefix (uWSGI's wsgi_subhandler). */
function stripScriptName(env: Environ): void {
  const script = env.SCRIPT_NAME;
  const path = env.PATH_INFO;
  if (typeof script === 'string' && typeof path === 'string' && script !== '' && path.startsWith(script)) env.PATH_INFO = path.slice(script.length);
}

/** Head (if not sent yet) and body in one buffer, so a whole small response is one write(2). */
function responseBytes(core: Core, body: Chunk | undefined, head = core.headersSent ? '' : responseHead(core.env!.SERVER_PROTOCOL as string, core)): Buffer {
  core.headersSent = true;
  const headLength = head.length; // latin1: one byte per char
  const bodyLength = byteLength(body);
  const bytes = Buffer.allocUnsafe(headLength + bodyLength);
  if (headLength > 0) bytes.write(head, 0, 'latin1');
  if (typeof body === 'string') bytes.write(body, headLength, 'utf8');
  else if (body !== undefined) bytes.set(body, headLength);
  return bytes;
}

const UWSGI_WRITER: ResponseWriter = {
  send(core, chunk) {
    const connection = core.conn as UwsgiConnection;
    if (connection.core !== core) return true; // the client is gone: the halt follows
    if (connection.link) connection.bodySent += byteLength(chunk);
    return connection.conns.write(connection.fd, outgoing(connection, responseBytes(core, chunk)));
  },
  finish(core, last) {
    const connection = core.conn as UwsgiConnection;
    if (connection.core !== core) return;
    if (!connection.link || !linkSurvives(connection, core, last)) return end(connection, core.headersSent && last === undefined ? undefined : outgoing(connection, responseBytes(core, last)));
    connection.conns.write(connection.fd, outgoing(connection, responseBytes(core, last, core.headersSent ? '' : linkHead(connection, core, byteLength(last)))));
    if (connection.server.draining) return end(connection, undefined);
    relink(connection);
  },
  abort(core, status) {
    const connection = core.conn as UwsgiConnection;
    if (connection.core !== core) return;
    if (core.headersSent) return destroy(connection);
    core.headersSent = true;
    const keep = connection.link && !connection.server.draining && linkRequest(core.env!);
    const bytes = outgoing(connection, Buffer.from(errorResponse((core.env!.SERVER_PROTOCOL as string | undefined) ?? 'HTTP/1.0', status, keep ? '' : closing(connection)), 'latin1'));
    if (!keep) return end(connection, bytes);
    // A whole answer framed by its Content-Length, as any response a link survives.
    connection.conns.write(connection.fd, bytes);
    relink(connection);
  },
  awaitDrain() {
    // The connection server calls onDrain(fd), which resumes the core.
  },
};

registerProtocol('uwsgi', (context) => new UwsgiServer(context));
