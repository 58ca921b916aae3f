/**
 * Incremental parser for the web-server side of a FastCGI 1.0 connection (what nginx
 * `fastcgi_pass` and `cgi-fcgi` send): 8-byte record headers, the responder role's
 * BEGIN_REQUEST → PARAMS… → STDIN… stream, ABORT_REQUEST and the GET_VALUES management record.
 *
 * Pure: it never touches a socket. The connection pushes the chunks it reads, then calls
 * {@link FastcgiParser.next} until it returns {@link NEED_MORE}; every other status is one
 * event whose data is in the parser's fields, or a negative error code (see {@link FASTCGI_ERRORS}).
 * Records the connection has nothing to do with (DATA, records of a finished or refused
 * request) are skipped inside `next()`.
 */
import { isReservedKey } from '../cgi.js';
import { internedName } from '../interned-names.js';

export const FCGI_VERSION_1 = 1;
export const FCGI_HEADER_LEN = 8;
/** The largest content a single record can carry (contentLength is a u16). */
export const FCGI_MAX_CONTENT = 0xffff;

export const FCGI_BEGIN_REQUEST = 1;
export const FCGI_ABORT_REQUEST = 2;
export const FCGI_END_REQUEST = 3;
export const FCGI_PARAMS = 4;
export const FCGI_STDIN = 5;
export const FCGI_STDOUT = 6;
export const FCGI_STDERR = 7;
export const FCGI_DATA = 8;
export const FCGI_GET_VALUES = 9;
export const FCGI_GET_VALUES_RESULT = 10;
export const FCGI_UNKNOWN_TYPE = 11;

export const FCGI_RESPONDER = 1;
export const FCGI_KEEP_CONN = 1;

/** END_REQUEST protocolStatus values. */
export const FCGI_REQUEST_COMPLETE = 0;
export const FCGI_CANT_MPX_CONN = 1;
export const FCGI_OVERLOADED = 2;
export const FCGI_UNKNOWN_ROLE = 3;

/** Status of {@link FastcgiParser.next}: no complete event in the bytes pushed so far. */
export const NEED_MORE = 0;
/** A responder request started: {@link FastcgiParser.requestId}, {@link FastcgiParser.keepConn}. */
export const BEGIN = 1;
/** The PARAMS stream of the active request ended: the params are in {@link FastcgiParser.vars}. */
export const PARAMS = 2;
/** Body bytes of the active request in {@link FastcgiParser.content}; empty = end of the body. */
export const STDIN = 3;
/** The web server aborted the active request, which is no longer active: answer its END_REQUEST. */
export const ABORT = 4;
/** A GET_VALUES management record: the variable names asked for are in {@link FastcgiParser.names}. */
export const GET_VALUES = 5;
/** A record type this parser does not know: answer UNKNOWN_TYPE with {@link FastcgiParser.recordType}. */
export const UNKNOWN_TYPE = 6;
/**
 * A BEGIN_REQUEST that cannot be served: answer END_REQUEST for {@link FastcgiParser.refusedId}
 * with {@link FastcgiParser.protocolStatus} (CANT_MPX_CONN or UNKNOWN_ROLE).
 */
export const REFUSE = 7;

/** A record header's version byte is not 1. */
export const FASTCGI_ERR_VERSION = -1;
/** A record that breaks the protocol: out of sequence, wrong body size, or sent by applications only. */
export const FASTCGI_ERR_RECORD = -2;
/** A name-value pair whose lengths run past the end of its stream. */
export const FASTCGI_ERR_PARAMS = -3;
/** The PARAMS stream is larger than the parser's buffer size. */
export const FASTCGI_ERR_PARAMS_SIZE = -4;
/** More name-value pairs than the parser's maxPairs. */
export const FASTCGI_ERR_TOO_MANY_PARAMS = -5;

/** Stable string code for each negative status returned by the parser. */
export const FASTCGI_ERRORS: Readonly<Record<number, string>> = {
  [FASTCGI_ERR_VERSION]: 'TSGI_ERR_FASTCGI_VERSION',
  [FASTCGI_ERR_RECORD]: 'TSGI_ERR_FASTCGI_RECORD',
  [FASTCGI_ERR_PARAMS]: 'TSGI_ERR_FASTCGI_PARAMS',
  [FASTCGI_ERR_PARAMS_SIZE]: 'TSGI_ERR_FASTCGI_PARAMS_SIZE',
  [FASTCGI_ERR_TOO_MANY_PARAMS]: 'TSGI_ERR_FASTCGI_TOO_MANY_PARAMS',
};

/** Same defaults as the uwsgi reader: `--buffer-size` 4096 and 2 × `--max-vars` 64. */
export const DEFAULT_BUFFER_SIZE = 4096;
export const DEFAULT_MAX_PAIRS = 128;

/** Types only an application sends: a peer sending them is not a web server. */
const APPLICATION_TYPES = new Set([FCGI_END_REQUEST, FCGI_STDOUT, FCGI_STDERR, FCGI_GET_VALUES_RESULT, FCGI_UNKNOWN_TYPE]);

/** Internal: the record was consumed and produced no event. */
const SKIP = 100;

const enum Stage { Idle, Params, Stdin, Done }

const EMPTY = Buffer.alloc(0);

/** See uwsgi-parser.ts: undocumented but on every Buffer, and the fastest bytes → string. */
type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

/**
 * Decodes FastCGI name-value pairs from `buf[start..end)` into `target` (latin1, a later
 * duplicate overwrites an earlier one). A length is 1 byte, or 4 bytes big-endian when its high
 * bit is set (the bit itself is not part of the length). Pairs with an empty name are skipped;
 * so are names tsgi reserves (`tsgi.*`, see isReservedKey), which go into `skipped` for a log line.
 *
 * @returns the number of pairs read, or {@link FASTCGI_ERR_PARAMS} when a length (or the
 *   bytes it announces) runs past `end`, or {@link FASTCGI_ERR_TOO_MANY_PARAMS}.
 */
export function decodeParams(
  buf: Buffer,
  start: number,
  end: number,
  target: Record<string, unknown>,
  maxPairs: number,
  skipped: string[] | null = null,
): number {
  const text = start === end ? '' : (buf as Latin1Buffer).latin1Slice(start, end);
  let pos = start;
  let pairs = 0;
  while (pos < end) {
    let nameLength = buf[pos++]!;
    if (nameLength > 0x7f) {
      if (pos + 3 > end) return FASTCGI_ERR_PARAMS;
      nameLength = ((nameLength & 0x7f) * 0x1000000) + (buf[pos]! << 16 | buf[pos + 1]! << 8 | buf[pos + 2]!);
      pos += 3;
    }
    if (pos >= end) return FASTCGI_ERR_PARAMS;
    let valueLength = buf[pos++]!;
    if (valueLength > 0x7f) {
      if (pos + 3 > end) return FASTCGI_ERR_PARAMS;
      valueLength = ((valueLength & 0x7f) * 0x1000000) + (buf[pos]! << 16 | buf[pos + 1]! << 8 | buf[pos + 2]!);
      pos += 3;
    }
    const nameStart = pos;
    const valueStart = nameStart + nameLength;
    pos = valueStart + valueLength;
    if (pos > end) return FASTCGI_ERR_PARAMS;
    if (++pairs > maxPairs) return FASTCGI_ERR_TOO_MANY_PARAMS;
    if (nameLength === 0) continue;
    if (buf[nameStart] === 0x74 /* t */ && isReservedKey(buf, nameStart, nameLength)) {
      skipped?.push(text.slice(nameStart - start, valueStart - start));
      continue;
    }
    target[internedName(buf, nameStart, valueStart, text, start)] = text.slice(valueStart - start, pos - start);
  }
  return pairs;
}

/**
 * Reads the records of one FastCGI connection and tracks its one active request.
 *
 * A record that lies wholly inside a pushed chunk is read in place; {@link content} is then a
 * view of that chunk. A record split across chunks is assembled in a buffer of its own, so a
 * `content` handed out stays valid after later pushes either way.
 *
 * @example
 * const parser = new FastcgiParser(DEFAULT_BUFFER_SIZE, DEFAULT_MAX_PAIRS);
 * socket.on('data', (chunk) => {
 *   parser.push(chunk);
 *   for (let status = parser.next(); status !== NEED_MORE; status = parser.next()) {
 *     if (status < 0) return socket.destroy(); // malformed: close this connection
 *     if (status === PARAMS) run(parser.vars);
 *     else if (status === STDIN) body(parser.content);
 *   }
 * });
 */
export class FastcgiParser {
  /** Id of the active request (0 when there is none). */
  requestId = 0;
  /** FCGI_KEEP_CONN of the last BEGIN_REQUEST (or of the refused one, after {@link REFUSE}). */
  keepConn = false;
  /** Params of the active request, written as they are decoded. */
  vars: Record<string, unknown> = {};
  /** Body bytes after {@link STDIN}; empty when the body ended. */
  content: Buffer = EMPTY;
  /** The names asked for after {@link GET_VALUES}. */
  names: string[] = [];
  /** The unknown type after {@link UNKNOWN_TYPE}. */
  recordType = 0;
  /** After {@link REFUSE}: the request id and the END_REQUEST protocolStatus to answer with. */
  refusedId = 0;
  protocolStatus = 0;
  /** After an error: what was wrong, for the log line. */
  reason = '';
  /** Params of the active request named like tsgi keys (`tsgi.input`…): not stored, to be logged. */
  readonly skipped: string[] = [];

  #stage = Stage.Idle;
  #error = 0;
  /** The pushed chunk being read and the read position in it. */
  #chunk: Buffer = EMPTY;
  #pos = 0;
  /** Header of a record split across chunks, and how much of it arrived. */
  readonly #head = Buffer.alloc(FCGI_HEADER_LEN);
  #headFilled = 0;
  /** Content + padding of a record split across chunks (null until its header is complete). */
  #body: Buffer | null = null;
  #bodyFilled = 0;
  /** Fields of the current record. */
  #type = 0;
  #id = 0;
  #contentLength = 0;
  /** PARAMS records of the active request, until the empty one ends the stream. */
  #params: Buffer[] = [];
  #paramsSize = 0;

  /**
   * @param bufferSize largest PARAMS stream accepted (tsgi `--buffer-size`, default 4096)
   * @param maxPairs largest number of params accepted (2 × `--max-vars`, default 128)
   * @param newVars makes the object each request's params are written into (the env)
   */
  constructor(
    readonly bufferSize: number,
    readonly maxPairs: number,
    readonly newVars: () => Record<string, unknown> = () => ({}),
  ) {}

  /** True while bytes of an incomplete record are held (a close now cuts a record short). */
  get partial(): boolean {
    return this.#headFilled > 0 || this.#pos < this.#chunk.length;
  }

  /** True between BEGIN_REQUEST and the end of its PARAMS stream. */
  get readingParams(): boolean {
    return this.#stage === Stage.Params;
  }

  /** True while the active request's body has not ended yet. */
  get readingBody(): boolean {
    return this.#stage === Stage.Params || this.#stage === Stage.Stdin;
  }

  /** Adds the next chunk read from the connection. Call {@link next} until NEED_MORE first. */
  push(chunk: Buffer): void {
    if (this.#pos < this.#chunk.length) chunk = Buffer.concat([this.#chunk.subarray(this.#pos), chunk]);
    this.#chunk = chunk;
    this.#pos = 0;
  }

  /**
   * The response to the active request is complete (or it was refused): records that still
   * arrive for it are skipped, and the next BEGIN_REQUEST starts a new request.
   */
  endRequest(): void {
    this.requestId = 0;
    this.#stage = Stage.Idle;
    this.#params = [];
    this.#paramsSize = 0;
  }

  /**
   * @returns the next event (a positive status; its data is in the fields), {@link NEED_MORE},
   *   or a negative `FASTCGI_ERR_*` code, which every later call returns too: close the connection.
   */
  next(): number {
    if (this.#error !== 0) return this.#error;
    for (;;) {
      const read = this.#readRecord();
      if (read !== 1) return read;
      const status = this.#handle();
      if (status !== SKIP) return status;
    }
  }

  #fail(code: number, reason: string): number {
    this.#error = code;
    this.reason = reason;
    return code;
  }

  /** @returns 1 when a whole record is in the fields, NEED_MORE, or an error. */
  #readRecord(): number {
    const chunk = this.#chunk;
    let pos = this.#pos;
    if (this.#headFilled === 0 && chunk.length - pos >= FCGI_HEADER_LEN) {
      if (!this.#readHeader(chunk, pos)) return this.#versionError(chunk[pos]!);
      const contentStart = pos + FCGI_HEADER_LEN;
      const recordEnd = contentStart + this.#contentLength + chunk[pos + 6]!;
      if (recordEnd <= chunk.length) {
        this.content = chunk.subarray(contentStart, contentStart + this.#contentLength);
        this.#pos = recordEnd;
        return 1;
      }
    }
    // Split record: the header first, then content + padding into a buffer of its own.
    if (this.#headFilled < FCGI_HEADER_LEN) {
      const take = Math.min(FCGI_HEADER_LEN - this.#headFilled, chunk.length - pos);
      chunk.copy(this.#head, this.#headFilled, pos, pos + take);
      this.#headFilled += take;
      pos += take;
      this.#pos = pos;
      if (this.#headFilled < FCGI_HEADER_LEN) return NEED_MORE;
      if (!this.#readHeader(this.#head, 0)) return this.#versionError(this.#head[0]!);
      this.#body = Buffer.allocUnsafe(this.#contentLength + this.#head[6]!);
      this.#bodyFilled = 0;
    }
    const body = this.#body!;
    const take = Math.min(body.length - this.#bodyFilled, chunk.length - pos);
    chunk.copy(body, this.#bodyFilled, pos, pos + take);
    this.#bodyFilled += take;
    this.#pos = pos + take;
    if (this.#bodyFilled < body.length) return NEED_MORE;
    this.content = body.subarray(0, this.#contentLength);
    this.#headFilled = 0;
    this.#body = null;
    return 1;
  }

  #readHeader(buf: Buffer, at: number): boolean {
    this.#type = buf[at + 1]!;
    this.#id = (buf[at + 2]! << 8) | buf[at + 3]!;
    this.#contentLength = (buf[at + 4]! << 8) | buf[at + 5]!;
    return buf[at] === FCGI_VERSION_1;
  }

  #versionError(version: number): number {
    return this.#fail(FASTCGI_ERR_VERSION, `record version ${version}, expected 1 (is the peer speaking FastCGI?)`);
  }

  /** Acts on a complete record: an event status, SKIP, or an error. */
  #handle(): number {
    const id = this.#id;
    switch (this.#type) {
      case FCGI_BEGIN_REQUEST:
        return this.#begin(id);
      case FCGI_PARAMS:
        return id === this.requestId && id !== 0 ? this.#paramsRecord() : SKIP;
      case FCGI_STDIN:
        return id === this.requestId && id !== 0 ? this.#stdin() : SKIP;
      case FCGI_ABORT_REQUEST:
        if (id !== this.requestId || id === 0) return SKIP;
        this.endRequest(); // what still arrives for it is skipped; the connection answers END_REQUEST
        return ABORT;
      case FCGI_DATA:
        return SKIP; // the filter role's second stream; a responder has none
      case FCGI_GET_VALUES:
        return this.#getValues(id);
      default:
        if (APPLICATION_TYPES.has(this.#type)) {
          return this.#fail(FASTCGI_ERR_RECORD, `record type ${this.#type} is sent by applications, not web servers`);
        }
        this.recordType = this.#type;
        return UNKNOWN_TYPE;
    }
  }

  #begin(id: number): number {
    const content = this.content;
    if (id === 0) return this.#fail(FASTCGI_ERR_RECORD, 'BEGIN_REQUEST with request id 0 (reserved for management records)');
    if (content.length !== 8) return this.#fail(FASTCGI_ERR_RECORD, `BEGIN_REQUEST body of ${content.length} bytes, expected 8`);
    const role = (content[0]! << 8) | content[1]!;
    const keepConn = (content[2]! & FCGI_KEEP_CONN) !== 0;
    if (this.requestId !== 0) {
      if (id === this.requestId) return this.#fail(FASTCGI_ERR_RECORD, `BEGIN_REQUEST for request ${id}, which is still in progress`);
      return this.#refuse(id, FCGI_CANT_MPX_CONN, keepConn);
    }
    if (role !== FCGI_RESPONDER) return this.#refuse(id, FCGI_UNKNOWN_ROLE, keepConn);
    this.requestId = id;
    this.keepConn = keepConn;
    this.vars = this.newVars();
    this.skipped.length = 0;
    this.#stage = Stage.Params;
    return BEGIN;
  }

  #refuse(id: number, protocolStatus: number, keepConn: boolean): number {
    this.refusedId = id;
    this.protocolStatus = protocolStatus;
    if (this.requestId === 0) this.keepConn = keepConn;
    return REFUSE;
  }

  #paramsRecord(): number {
    if (this.#stage !== Stage.Params) return this.#fail(FASTCGI_ERR_RECORD, `PARAMS for request ${this.requestId} after its params ended`);
    const content = this.content;
    if (content.length > 0) {
      this.#paramsSize += content.length;
      if (this.#paramsSize > this.bufferSize) {
        return this.#fail(FASTCGI_ERR_PARAMS_SIZE, `PARAMS stream of more than ${this.bufferSize} bytes (--buffer-size)`);
      }
      this.#params.push(content);
      return SKIP;
    }
    const parts = this.#params;
    const stream = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    this.#params = [];
    this.#paramsSize = 0;
    const pairs = decodeParams(stream, 0, stream.length, this.vars, this.maxPairs, this.skipped);
    if (pairs < 0) return this.#pairsError(pairs, 'PARAMS', stream.length);
    this.#stage = Stage.Stdin;
    return PARAMS;
  }

  #pairsError(code: number, what: string, size: number): number {
    return code === FASTCGI_ERR_TOO_MANY_PARAMS
      ? this.#fail(code, `${what} carries more than ${this.maxPairs} name-value pairs (2 x --max-vars)`)
      : this.#fail(code, `a name-value length runs past the end of the ${size}-byte ${what} stream`);
  }

  #stdin(): number {
    if (this.#stage === Stage.Params) return this.#fail(FASTCGI_ERR_RECORD, `STDIN for request ${this.requestId} before the end of its PARAMS`);
    if (this.#stage !== Stage.Stdin) return this.#fail(FASTCGI_ERR_RECORD, `STDIN for request ${this.requestId} after the end of its body`);
    if (this.content.length === 0) this.#stage = Stage.Done;
    return STDIN;
  }

  #getValues(id: number): number {
    if (id !== 0) return this.#fail(FASTCGI_ERR_RECORD, `GET_VALUES with request id ${id} (management records use 0)`);
    const content = this.content;
    const asked: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    const pairs = decodeParams(content, 0, content.length, asked, this.maxPairs);
    if (pairs < 0) return this.#pairsError(pairs, 'GET_VALUES', content.length);
    this.names = Object.keys(asked);
    return GET_VALUES;
  }
}
