/**
 * A core is uWSGI's request slot: a preallocated green thread plus the state of the request it
 * serves (env, start_response, status, counters). Protocols fill in `env` and a ResponseWriter;
 * the core runs the app and turns its output into writer calls.
 */
import { GreenThread, type Chunk } from '../../green/thread.js';
import type { Suspension } from '../../green/suspension.js';
import type { Scheduler } from '../../green/scheduler.js';
import { Environ } from './environ.js';
import { isTsgiError, tsgiError } from '../errors.js';
import { utcClock } from '../clock.js';
import { log, logRequest } from '../logger.js';
import type { RequestFormat } from '../logging/request-format.js';
import { byteLength } from '../protocols/response.js';
import { logAppError } from './app-errors.js';
import type { WorkerSlot } from '../shared/scoreboard.js';
import type { RequestBudget } from './recycle.js';
import type { MountedApp } from '../apps/app-table.js';

/** The WSGI-style application: `application(env, start_response)`. */
export type App = (env: Environ, startResponse: StartResponse) => unknown;
export type Headers = Array<[string, string]>;
export type StartResponse = (status: string, headers: Headers, excInfo?: unknown) => (chunk: Chunk) => void;

/** How one protocol puts a response on the wire. Stateless: all state lives on the core. */
export interface ResponseWriter {
  /** Sends the status line and headers on first use, then `chunk`; false = wait for drain. */
  send(core: Core, chunk: Chunk): boolean;
  /** Ends the response, with `last` as its final chunk. */
  finish(core: Core, last: Chunk | undefined): void;
  /** Answers `status` (see {@link abortReason}) if nothing was sent yet, else breaks the connection. */
  abort(core: Core, status: number): void;
  /** Calls `core.resume(DRAIN, undefined)` once the connection can take more output. */
  awaitDrain(core: Core): void;
}

/**
 * Where the cores of one worker report, shared by all of them: the worker's scoreboard slot
 * (the counters live there), whether to log requests, and the warnings given once per app.
 */
export interface CoreReporting {
  id: number;
  slot: WorkerSlot;
  logRequests: boolean;
  /** --log-format, compiled once; absent: uWSGI's default line. */
  requestFormat?: RequestFormat;
  /** --ugreen: warn (once) about bare suspensions, which uGreen would run where called. */
  warnBareSuspension: boolean;
  /** --max-requests: counted down per request; at 0 the worker asks to be recycled. */
  budget: RequestBudget;
}

export class Core extends GreenThread {
  env: Environ | null = null;
  writer: ResponseWriter | null = null;
  /** The protocol's handle on the client (a socket, an http.ServerResponse, …). */
  conn: unknown = null;
  status: string | null = null;
  statusCode = 0;
  headers: Headers = [];
  headersSent = false;
  bytes = 0;
  #startedAt = 0;

  /** When the running request started (performance.now() ms): the harakiri sweep compares it. */
  get startedAt(): number {
    return this.#startedAt;
  }

  /** Set once the worker has imported the application (it is imported after the cores exist). */
  app: App = notLoaded;
  /** Multi-app mode: the mounted app serving this request, whose exceptions it counts. */
  mounted: MountedApp | null = null;

  constructor(scheduler: Scheduler<Core>, index: number, readonly reporting: CoreReporting) {
    super(scheduler as unknown as Scheduler<GreenThread>, index);
  }

  /** Runs the app for a request whose env is complete. */
  serve(env: Environ, writer: ResponseWriter, conn: unknown): void {
    this.env = env;
    this.writer = writer;
    this.conn = conn;
    this.#startedAt = performance.now();
    this.reporting.slot.setBusyCores(this.scheduler.busyCount);
    env['tsgi.core'] = this.index;
    // Per request, not per core: an app that outlives its request (an async function whose
    // client left) must not reach the next request this core serves.
    const generation = this.generation;
    const startResponse: StartResponse = (status, headers, excInfo) => this.#startResponse(generation, status, headers, excInfo);
    this.start(this.app, env, startResponse);
  }

  #startResponse(generation: number, status: string, headers: Headers, excInfo?: unknown): (chunk: Chunk) => void {
    this.#checkCurrent(generation, 'start_response');
    if (excInfo !== undefined && excInfo !== null) {
      if (this.headersSent) throw excInfo;
    } else if (this.status !== null) {
      throw tsgiError('TSGI_ERR_APP_START_RESPONSE', 'start_response called twice without exc_info');
    }
    const code = statusCode(status);
    if (code < 0) throw tsgiError('TSGI_ERR_APP_STATUS', `bad status ${JSON.stringify(status)}: expected "NNN Reason"`);
    // Every protocol writes the status verbatim: a CR or LF in it would inject headers (response
    // splitting). node:http's rule (ERR_INVALID_CHAR): tab, printable ASCII and 0x80-0xff only.
    if (BAD_STATUS_CHAR.test(status)) throw tsgiError('TSGI_ERR_APP_STATUS', `bad status ${JSON.stringify(status)}: control characters are not allowed`);
    if (!Array.isArray(headers)) throw tsgiError('TSGI_ERR_APP_HEADERS', 'headers must be an array of [name, value] pairs');
    for (const header of headers) {
      if (!Array.isArray(header) || typeof header[0] !== 'string' || typeof header[1] !== 'string') {
        throw tsgiError('TSGI_ERR_APP_HEADERS', `bad header ${JSON.stringify(header)}: expected [name, value] strings`);
      }
      // The uwsgi protocol writes headers verbatim: a CR or LF would split the response.
      if (CRLF.test(header[0]) || CRLF.test(header[1])) {
        throw tsgiError('TSGI_ERR_APP_HEADERS', `header ${JSON.stringify(header[0])} contains a line break`);
      }
    }
    this.status = status;
    this.statusCode = code;
    this.headers = headers;
    // PEP 3333's legacy write callable.
    return (chunk: Chunk): void => {
      this.#checkCurrent(generation, 'write');
      this.emit(chunk);
    };
  }

  #checkCurrent(generation: number, what: string): void {
    if (generation !== this.generation) throw tsgiError('TSGI_ERR_CANCELLED', `${what} of a request that is over (its client left, or it was halted)`);
  }

  protected emit(chunk: Chunk): boolean {
    if (this.status === null) throw tsgiError('TSGI_ERR_APP_NO_START_RESPONSE', 'body chunk before start_response');
    this.bytes += byteLength(chunk);
    return this.writer!.send(this, chunk);
  }

  awaitDrain(): void {
    this.writer!.awaitDrain(this);
  }

  protected complete(last?: Chunk): void {
    if (this.status === null) throw tsgiError('TSGI_ERR_APP_NO_START_RESPONSE', 'the app returned without calling start_response');
    this.bytes += byteLength(last);
    this.writer!.finish(this, last);
    this.#end();
  }

  protected crash(error: unknown): void {
    // A client error the protocol threw into tsgi.input (a malformed or stalled body) and the
    // app let through: the client gets its 400/408, and the protocol has logged it already.
    const clientError = clientErrorStatus(error);
    if (clientError === 0) {
      this.reporting.slot.countException();
      this.mounted?.counters.countException();
      const env = this.env!;
      logAppError(`app error on ${env.REQUEST_METHOD} ${env.REQUEST_URI ?? env.PATH_INFO}`, error);
    }
    const abortStatus = clientError || 500;
    const status = this.headersSent ? this.statusCode : abortStatus;
    this.writer!.abort(this, abortStatus);
    this.statusCode = status;
    this.#end();
  }

  protected onHalt(reason: Error): void {
    Environ.abort(this.env!, reason);
    // A shutdown answers 503 (retry elsewhere), a harakiri its own 504.
    const status = (isTsgiError(reason) && reason.status) || 503;
    if (!this.headersSent) this.statusCode = status;
    this.writer!.abort(this, status);
    this.#account();
  }

  protected override onBareSuspension(suspension: Suspension): void {
    if (!this.reporting.warnBareSuspension) return;
    this.reporting.warnBareSuspension = false;
    const env = this.env!;
    log(`warning: ${env.REQUEST_METHOD} ${env.REQUEST_URI ?? env.PATH_INFO}: a uwsgi suspension (${suspension.constructor.name}) called without yield ran only after the next chunk, `
      + 'not where it was called as under uGreen: yield it where it is called and call helper generators with yield* (logged once per app)');
  }

  /** Response done: account for it, then free the core. */
  #end(): void {
    this.#account();
    this.release();
  }

  #account(): void {
    const reporting = this.reporting;
    reporting.slot.countRequest((performance.now() - this.#startedAt) * 1000, this.bytes);
    reporting.slot.setBusyCores(this.scheduler.busyCount - 1);
    if (reporting.logRequests) this.#logRequest();
    if (--reporting.budget.requestsLeft === 0) reporting.budget.requestsSpent();
  }

  override release(): void {
    this.env = null;
    this.writer = null;
    this.conn = null;
    this.status = null;
    this.statusCode = 0;
    this.headers = [];
    this.headersSent = false;
    this.bytes = 0;
    super.release();
  }

  #logRequest(): void {
    const format = this.reporting.requestFormat;
    if (format !== undefined) return logRequest(format.render(this));
    const env = this.env!;
    const ms = (performance.now() - this.#startedAt).toFixed(2);
    logRequest(`[pid: ${process.pid}|worker: ${this.reporting.id}|req: ${this.reporting.slot.requests}] ${env.REMOTE_ADDR ?? '-'} [${utcClock()}] `
      + `${env.REQUEST_METHOD} ${env.REQUEST_URI ?? env.PATH_INFO} => generated ${this.bytes} bytes in ${ms} msecs `
      + `(${env.SERVER_PROTOCOL ?? 'HTTP/1.0'} ${this.statusCode}) core ${this.index}`);
  }
}

const CRLF = /[\r\n]/;
const BAD_STATUS_CHAR = /[^\t\x20-\x7e\x80-\xff]/;

/** The 4xx status of a tsgi client error (the request was bad, not the app), else 0. */
function clientErrorStatus(error: unknown): number {
  const status = isTsgiError(error) ? error.status : undefined;
  return status !== undefined && status >= 400 && status < 500 ? status : 0;
}

function notLoaded(): never {
  throw tsgiError('TSGI_ERR_INTERNAL', 'the application is not loaded yet');
}

/** The numeric code of "NNN Reason" (or "NNN"), or -1. */
function statusCode(status: unknown): number {
  if (typeof status !== 'string' || status.length < 3 || (status.length > 3 && status.charCodeAt(3) !== 32)) return -1;
  let code = 0;
  for (let i = 0; i < 3; i++) {
    const digit = status.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    code = code * 10 + digit;
  }
  return code < 100 ? -1 : code;
}
