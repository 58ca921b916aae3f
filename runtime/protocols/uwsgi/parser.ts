/**
 * Incremental parser for uwsgi protocol requests (what nginx `uwsgi_pass` sends):
 * `header(4) | vars(datasize) | body`. See uWSGI's docs, `Protocol.rst`, and `core/protocol.c`.
 *
 * Pure: it never touches a socket. The connection code pushes the chunks it reads and gets
 * back {@link NEED_MORE}, {@link DONE} or a negative error code (see {@link UWSGI_ERRORS}).
 */
import { tsgiError, type ErrorCode } from '../../errors.js';
import { isReservedKey, leadingDigits } from '../cgi.js';
import { internedName } from '../interned-names.js';

/** Status of {@link UwsgiRequestReader.push}: the header or vars block is incomplete. */
export const NEED_MORE = 0;
/** Status of {@link UwsgiRequestReader.push}: header and vars are parsed; the fields are set. */
export const DONE = 1;

/** datasize is larger than the reader's buffer size (uWSGI: "invalid request block size"). */
export const UWSGI_ERR_BLOCK_SIZE = -1;
/** A key has length 0 (uWSGI: "uwsgi key cannot be null"). */
export const UWSGI_ERR_NULL_KEY = -2;
/** A length runs past the end of the vars block. */
export const UWSGI_ERR_TRUNCATED_VARS = -3;
/** More pairs than the reader's maxPairs (uWSGI: "max vec size reached"). */
export const UWSGI_ERR_TOO_MANY_VARS = -4;

/** Stable string code for each negative status returned by the parser. */
export const UWSGI_ERRORS: Readonly<Record<number, string>> = {
  [UWSGI_ERR_BLOCK_SIZE]: 'TSGI_ERR_UWSGI_BLOCK_SIZE',
  [UWSGI_ERR_NULL_KEY]: 'TSGI_ERR_UWSGI_NULL_KEY',
  [UWSGI_ERR_TRUNCATED_VARS]: 'TSGI_ERR_UWSGI_TRUNCATED_VARS',
  [UWSGI_ERR_TOO_MANY_VARS]: 'TSGI_ERR_UWSGI_TOO_MANY_VARS',
};

/** uWSGI's `--buffer-size` default: the largest vars block accepted. */
export const DEFAULT_BUFFER_SIZE = 4096;
/** uWSGI's pair limit: 2 × `--max-vars` (default 64). */
export const DEFAULT_MAX_PAIRS = 128;

const HEADER_SIZE = 4;

/**
 * `latin1Slice` is undocumented but present on every Buffer, and it is the fastest way to get a
 * string out of bytes (no encoding lookup, no argument checks).
 */
type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

/**
 * Parses a uwsgi dictionary (`u16le keylen, key, u16le vallen, value`, repeated) from
 * `buf[start..end)` into `target`, decoding keys and values as latin1. A later duplicate key
 * overwrites an earlier one, as in uWSGI's environ.
 *
 * The bounds checks are uWSGI 2.0's (`uwsgi_parse_vars`): a key length needs at least one
 * byte after it, an empty value is fine even for the last pair. A key tsgi reserves
 * (`tsgi.*`, see isReservedKey) is not stored: it goes into `skipped`, for one log line.
 *
 * @returns the number of pairs read, or a negative `UWSGI_ERR_*` code (target may then hold
 *   the pairs read before the error).
 */
export function parseVars(
  buf: Buffer,
  start: number,
  end: number,
  target: Record<string, unknown>,
  maxPairs: number,
  skipped: string[] | null = null,
): number {
  // One native call for the whole block, then substrings: latin1 maps byte i to char i, and a
  // native call per string costs ~50 ns, more than the rest of the parse.
  const text = (buf as Latin1Buffer).latin1Slice(start, end);
  let pos = start;
  let pairs = 0;
  while (pos < end) {
    if (pos + 2 >= end) return UWSGI_ERR_TRUNCATED_VARS;
    const keyLength = buf[pos] | (buf[pos + 1] << 8);
    if (keyLength === 0) return UWSGI_ERR_NULL_KEY;
    const keyStart = pos + 2;
    const keyEnd = keyStart + keyLength;
    if (keyEnd + 2 > end) return UWSGI_ERR_TRUNCATED_VARS;
    const valueStart = keyEnd + 2;
    pos = valueStart + (buf[keyEnd] | (buf[keyEnd + 1] << 8));
    if (pos > end) return UWSGI_ERR_TRUNCATED_VARS;
    if (++pairs > maxPairs) return UWSGI_ERR_TOO_MANY_VARS;
    if (buf[keyStart] === 0x74 /* t */ && isReservedKey(buf, keyStart, keyLength)) {
      skipped?.push(text.slice(keyStart - start, keyEnd - start));
      continue;
    }
    target[internedName(buf, keyStart, keyEnd, text, start)] = text.slice(valueStart - start, pos - start);
  }
  return pairs;
}

/**
 * Parses a uwsgi "array" (`u16le length, bytes`, repeated; used by RPC and cache set) from
 * `buf[start..end)`. Zero-length items are skipped, as uWSGI does.
 *
 * @returns views into `buf` (not copies): copy them if `buf` is reused.
 * @throws Error with `code` `TSGI_ERR_UWSGI_TRUNCATED_VARS` when a length runs past `end`.
 *   Like uWSGI 2.0 (`uwsgi_parse_array`), a length field needs at least one byte after it, so
 *   a zero-length item at the very end is rejected too.
 */
export function parseArray(buf: Buffer, start: number, end: number): Buffer[] {
  const items: Buffer[] = [];
  let pos = start;
  while (pos < end) {
    if (pos + 2 >= end) throw truncatedArrayError();
    const itemStart = pos + 2;
    pos = itemStart + (buf[pos] | (buf[pos + 1] << 8));
    if (pos > end) throw truncatedArrayError();
    if (pos > itemStart) items.push(buf.subarray(itemStart, pos));
  }
  return items;
}

function truncatedArrayError(): Error {
  return tsgiError(UWSGI_ERRORS[UWSGI_ERR_TRUNCATED_VARS] as ErrorCode, 'an item length runs past the end of the uwsgi array');
}

/**
 * modifier1 values whose block is kept raw, not parsed into a vars dict: 17 spool enqueue
 * (stored as sent), 100 ping, 101 echo, 111 cache commands (raw keys or arrays), 173 RPC (an
 * array). Every other modifier carries a dict.
 */
const RAW_MODIFIERS = new Set([17, 100, 101, 111, 173]);

/**
 * Reads one uwsgi request packet (header + vars block) from pushed chunks.
 *
 * When the first chunk holds the whole header and vars block (the usual case behind nginx),
 * the vars are parsed straight from it. Only a split packet is copied into an internal buffer,
 * which grows to the largest packet seen and is reused.
 *
 * @example
 * const reader = new UwsgiRequestReader(DEFAULT_BUFFER_SIZE, DEFAULT_MAX_PAIRS);
 * const env = {};
 * reader.reset(env);
 * socket.on('data', (chunk) => {
 *   const status = reader.push(chunk);
 *   if (status === DONE) handle(env, reader.rest, reader.contentLength);
 *   else if (status < 0) socket.destroy(); // uWSGI closes without a reply
 * });
 */
export class UwsgiRequestReader {
  /** Packet type / target plugin (0 = WSGI-style request). Parsed as a dict whatever it is. */
  modifier1 = 0;
  /** Sub-command or flag; meaning depends on modifier1. */
  modifier2 = 0;
  /** Length of the vars block. Set as soon as the header is complete, also on errors. */
  datasize = 0;
  /** Where the vars are written: the object given to {@link reset}. */
  vars: Record<string, unknown> = {};
  /** Bytes received after the vars block (the start of the body), or null if none. */
  rest: Buffer | null = null;
  /** The raw block of a packet whose modifier1 does not carry a vars dict (RPC, cache, …). */
  payload: Buffer | null = null;
  /** Leading decimal digits of `vars.CONTENT_LENGTH`, 0 if absent or none. */
  contentLength = 0;
  /** Vars of the packet named like tsgi keys (`tsgi.input`…): not stored, to be logged. */
  readonly skipped: string[] = [];

  /** Header and vars bytes of a packet split across chunks. */
  #pending: Buffer = Buffer.alloc(0);
  /** How many bytes of #pending are filled; stays 0 while packets arrive whole. */
  #filled = 0;

  /**
   * @param bufferSize largest accepted vars block (uWSGI `--buffer-size`, default 4096)
   * @param maxPairs largest accepted number of pairs (uWSGI 2 × `--max-vars`, default 128)
   */
  constructor(
    readonly bufferSize: number,
    readonly maxPairs: number,
  ) {}

  /**
   * Prepares for a new packet whose vars are written into `target` (pass the request's env
   * object to avoid a copy). A target with a null prototype keeps a `__proto__` var as data.
   * Call it before every packet, including after an error.
   */
  reset(target: Record<string, unknown>): void {
    this.modifier1 = 0;
    this.modifier2 = 0;
    this.datasize = 0;
    this.vars = target;
    this.rest = null;
    this.contentLength = 0;
    this.payload = null;
    this.skipped.length = 0;
    this.#filled = 0;
  }

  /**
   * Feeds the next chunk of the connection.
   *
   * @returns {@link NEED_MORE}, {@link DONE} (fields are set; bytes past the vars block are in
   *   {@link rest}) or a negative `UWSGI_ERR_*` code: drop the connection, as uWSGI does.
   */
  push(chunk: Buffer): number {
    if (this.#filled === 0 && chunk.length >= HEADER_SIZE) {
      if (!this.#readHeader(chunk)) return UWSGI_ERR_BLOCK_SIZE;
      const blockEnd = HEADER_SIZE + this.datasize;
      if (chunk.length >= blockEnd) return this.#finish(chunk, chunk, blockEnd);
    }
    return this.#accumulate(chunk);
  }

  #accumulate(chunk: Buffer): number {
    let used = 0;
    if (this.#filled < HEADER_SIZE) {
      used = Math.min(HEADER_SIZE - this.#filled, chunk.length);
      this.#store(chunk, 0, used, HEADER_SIZE);
      if (this.#filled < HEADER_SIZE) return NEED_MORE;
      if (!this.#readHeader(this.#pending)) return UWSGI_ERR_BLOCK_SIZE;
    }
    const blockEnd = HEADER_SIZE + this.datasize;
    const missing = blockEnd - this.#filled;
    if (chunk.length - used < missing) {
      this.#store(chunk, used, chunk.length, blockEnd);
      return NEED_MORE;
    }
    this.#store(chunk, used, used + missing, blockEnd);
    return this.#finish(this.#pending, chunk, used + missing);
  }

  /** Copies `chunk[start..end)` after the filled bytes, growing #pending to `capacity` if needed. */
  #store(chunk: Buffer, start: number, end: number, capacity: number): void {
    if (this.#pending.length < capacity) {
      const grown = Buffer.allocUnsafe(capacity);
      this.#pending.copy(grown, 0, 0, this.#filled);
      this.#pending = grown;
    }
    this.#filled += chunk.copy(this.#pending, this.#filled, start, end);
  }

  /** @returns false when datasize exceeds the buffer size. */
  #readHeader(header: Buffer): boolean {
    this.modifier1 = header[0];
    this.datasize = header[1] | (header[2] << 8);
    this.modifier2 = header[3];
    return this.datasize <= this.bufferSize;
  }

  /**
   * Parses the vars from `block` (the chunk itself or #pending) and keeps the bytes of `chunk`
   * past `consumed` as the start of the body.
   */
  #finish(block: Buffer, chunk: Buffer, consumed: number): number {
    this.rest = consumed < chunk.length ? chunk.subarray(consumed) : null;
    if (RAW_MODIFIERS.has(this.modifier1)) {
      // RPC arrays, cache keys…: the payload is not a dict; hand it over as bytes (a copy when
      // it sits in the reused accumulation buffer).
      const payload = block.subarray(HEADER_SIZE, HEADER_SIZE + this.datasize);
      this.payload = block === chunk ? payload : Buffer.from(payload);
      return DONE;
    }
    const pairs = parseVars(block, HEADER_SIZE, HEADER_SIZE + this.datasize, this.vars, this.maxPairs, this.skipped);
    if (pairs < 0) return pairs;
    this.contentLength = leadingDigits(this.vars.CONTENT_LENGTH);
    return DONE;
  }
}

/**
 * One-line explanation of a negative parser status, for logs. Pass the reader that returned
 * it to include the sizes involved.
 */
export function uwsgiErrorMessage(
  code: number,
  reader?: Pick<UwsgiRequestReader, 'datasize' | 'bufferSize' | 'maxPairs'>,
): string {
  switch (code) {
    case UWSGI_ERR_BLOCK_SIZE:
      return reader
        ? `vars block of ${reader.datasize} bytes exceeds --buffer-size ${reader.bufferSize}`
        : 'vars block exceeds --buffer-size';
    case UWSGI_ERR_NULL_KEY:
      return 'a var has an empty key (uwsgi keys cannot be null)';
    case UWSGI_ERR_TRUNCATED_VARS:
      return reader
        ? `a var length runs past the end of the ${reader.datasize}-byte vars block`
        : 'a var length runs past the end of the vars block';
    case UWSGI_ERR_TOO_MANY_VARS:
      return reader ? `more than ${reader.maxPairs} vars (2 x --max-vars)` : 'too many vars (2 x --max-vars)';
    default:
      return `unknown uwsgi parser status ${code}`;
  }
}
