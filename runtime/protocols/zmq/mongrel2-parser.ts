/**
 * Mongrel2's handler wire format (uWSGI's `plugins/mongrel2/mongrel2.c`), pure: no sockets, no files. A request
 * message becomes an env exactly as uWSGI 2.0's mongrel2 plugin builds it; response frames are
 * encoded here and decoded too (the Mongrel2 stand-in of the tests and benchmarks reads them).
 *
 *   request:  SENDER SP CONN_ID SP PATH SP len:HEADERS(, = JSON | } = tnetstring) len:BODY,
 *   response: SENDER SP len:ID1 ID2 …, SP BYTES        (empty BYTES: close those connections)
 *
 * Where uWSGI's plugin is plainly wrong tsgi does what it meant (each is marked "uWSGI:"):
 * REMOTE_ADDR from a multi-hop x-forwarded-for, SERVER_PORT of an IPv6 host, REQUEST_URI when a
 * tnetstring lists PATH before QUERY, and duplicate headers (JSON arrays) are kept, not dropped.
 */
import type { Chunk } from '../../../green/thread.js';
import { tsgiError } from '../../errors.js';
import { cgiHeaderName, decodePath } from '../cgi.js';

/** What {@link Mongrel2Reader.read} found. */
export const REQUEST = 0;
/** `@*` `{"type":"disconnect"}`: the client of `connId` is gone. */
export const DISCONNECT = 1;
/** A well-formed message that is not a request to serve (an upload still in progress, another JSON message). */
export const IGNORED = 2;
/** Not a Mongrel2 message: log it (`why`) and drop it. */
export const INVALID = 3;
export type ReadStatus = typeof REQUEST | typeof DISCONNECT | typeof IGNORED | typeof INVALID;

const SP = 0x20;
const COLON = 0x3a;
const COMMA = 0x2c;
const BRACE = 0x7d;
/** tnetstrings allow at most 9 length digits. */
const MAX_LENGTH_DIGITS = 9;

/**
 * Reads one request message. One reader serves a whole handler: the fields describe the last
 * message read, and the env given to `read` receives the CGI variables.
 */
export class Mongrel2Reader {
  sender = '';
  connId = '';
  path = '';
  /** The BODY netstring when the request announced a content-length > 0, else null. */
  body: Buffer | null = null;
  /** `x-mongrel2-upload-done`: Mongrel2 streamed the body to this file. */
  uploadFile: string | null = null;
  /** The content-length header (0 when absent). */
  contentLength = 0;
  /** Why the last message was INVALID or IGNORED. */
  why = '';

  #start = 0;
  #end = 0;
  #type = 0;

  /** @param serverName SERVER_NAME of every request (uWSGI: the local hostname) */
  constructor(readonly serverName: string) {}

  read(message: Buffer, env: Record<string, unknown>): ReadStatus {
    this.sender = this.connId = this.path = this.why = '';
    this.body = null;
    this.uploadFile = null;
    this.contentLength = 0;
    const a = message.indexOf(SP);
    const b = a < 0 ? -1 : message.indexOf(SP, a + 1);
    const c = b < 0 ? -1 : message.indexOf(SP, b + 1);
    if (c < 0) return this.#invalid('expected "UUID ID PATH HEADERS BODY"');
    if (a === 0 || b === a + 1) return this.#invalid('empty sender UUID or connection id');
    this.sender = message.toString('latin1', 0, a);
    this.connId = message.toString('latin1', a + 1, b);
    if (this.connId.includes(',')) return this.#invalid(`connection id ${JSON.stringify(this.connId)} contains a comma`);
    this.path = message.toString('latin1', b + 1, c);
    if (!this.#netstring(message, c + 1, 'HEADERS')) return INVALID;
    let pairs: string[] | null;
    if (this.#type === BRACE) pairs = tnetstringDict(message, this.#start, this.#end);
    // latin1, not utf8: header bytes stay byte strings (one char per byte), as the HTTP and
    // uwsgi protocols keep them; utf8 would turn every byte that is not valid UTF-8 into U+FFFD.
    else if (this.#type === COMMA) pairs = jsonHeaders(message.toString('latin1', this.#start, this.#end));
    else return this.#invalid(`HEADERS end with ${JSON.stringify(String.fromCharCode(this.#type))}, expected "," (JSON) or "}" (tnetstring)`);
    if (pairs === null) return this.#invalid(this.#type === BRACE ? 'HEADERS are not a tnetstring dict of strings' : 'HEADERS are not a JSON object');
    let body: Buffer | null = null;
    const next = this.#end + 1;
    if (next < message.length) {
      if (!this.#netstring(message, next, 'BODY')) return INVALID;
      if (this.#type !== COMMA) return this.#invalid('BODY does not end with ","');
      if (this.#end + 1 !== message.length) return this.#invalid(`${message.length - this.#end - 1} stray bytes after BODY`);
      body = message.subarray(this.#start, this.#end);
    }
    return this.#apply(pairs, body, env);
  }

  /** Maps the headers onto the env as uWSGI's `uwsgi_mongrel2_json_parse` does. */
  #apply(pairs: string[], body: Buffer | null, env: Record<string, unknown>): ReadStatus {
    let method: string | undefined;
    let version: string | undefined;
    let query: string | undefined;
    let path: string | undefined;
    let scheme: string | undefined;
    let host: string | undefined;
    let forwardedFor: string | undefined;
    let uploadStart = false;
    for (let i = 0; i < pairs.length; i += 2) {
      const key = pairs[i]!;
      const value = pairs[i + 1]!;
      // uWSGI: "is it a header?" — a key whose first byte is >= 'a'. The rest are Mongrel2's own.
      if (key.charCodeAt(0) >= 97) {
        env[cgiHeaderName(key)] = value;
        if (key === 'host') host = value;
        else if (key === 'x-forwarded-for') forwardedFor = value;
        else if (key === 'content-length') this.contentLength = atoi(value);
        else if (key === 'x-mongrel2-upload-start') uploadStart = true;
        else if (key === 'x-mongrel2-upload-done') this.uploadFile = value;
      } else if (key === 'METHOD') method = value;
      else if (key === 'VERSION') version = value;
      else if (key === 'QUERY') query = value;
      else if (key === 'PATH') path = value;
      else if (key === 'URL_SCHEME') scheme = value;
    }
    if (method === undefined) return this.#invalid('no METHOD header');
    if (method === 'JSON') return isDisconnect(body) ? DISCONNECT : this.#ignored('a JSON message that is not a disconnect');
    if (uploadStart && this.uploadFile === null) return this.#ignored('upload in progress (x-mongrel2-upload-start without -done)');
    if (this.contentLength > 0 && this.uploadFile === null) {
      if (body === null) return this.#invalid(`content-length ${this.contentLength} but no BODY netstring`);
      this.body = body;
    }
    env.REQUEST_METHOD = method;
    if (version !== undefined) env.SERVER_PROTOCOL = version;
    env.QUERY_STRING = query ?? '';
    env.SCRIPT_NAME = '';
    // Mongrel2 passes PATH as the client sent it; HTTP and FastCGI decode it (nginx's
    // $document_uri), so an app sees the same PATH_INFO whichever front end it is behind.
    const pathInfo = path ?? this.path;
    env.PATH_INFO = decodePath(pathInfo);
    env.REQUEST_URI = query ? `${pathInfo}?${query}` : pathInfo;
    if (scheme !== undefined) env.UWSGI_SCHEME = scheme;
    if (host !== undefined) env.SERVER_PORT = serverPort(host);
    if (forwardedFor !== undefined) env.REMOTE_ADDR = remoteAddr(forwardedFor);
    env.SERVER_NAME = this.serverName;
    return REQUEST;
  }

  /** Reads `len:` at `at`; sets #start/#end (the payload) and #type (the byte after it). */
  #netstring(message: Buffer, at: number, what: string): boolean {
    const start = netstring(message, at, message.length);
    if (start < 0) {
      this.why = `${what} is not a netstring (len:payload,)`;
      return false;
    }
    this.#start = start;
    this.#end = netEnd;
    this.#type = message[netEnd]!;
    return true;
  }

  #invalid(why: string): typeof INVALID {
    this.why = why;
    return INVALID;
  }

  #ignored(why: string): typeof IGNORED {
    this.why = why;
    return IGNORED;
  }
}

/** Where the payload found by the last {@link netstring} call ends (its type byte is there). */
let netEnd = 0;

/**
 * The netstring starting at `at`: returns the start of its payload and sets `netEnd`, or
 * returns -1. A module-level end instead of a result object keeps the hot path allocation-free.
 */
function netstring(bytes: Buffer, at: number, limit: number): number {
  let length = 0;
  let i = at;
  for (; i < limit && i - at <= MAX_LENGTH_DIGITS; i++) {
    const digit = bytes[i]! - 48;
    if (digit < 0 || digit > 9) break;
    length = length * 10 + digit;
  }
  if (i === at || i - at > MAX_LENGTH_DIGITS || i >= limit || bytes[i] !== COLON) return -1;
  const start = i + 1;
  if (start + length >= limit) return -1; // the type byte must be there too
  netEnd = start + length;
  return start;
}

/** A tnetstring dict payload as flat [key, value, …] strings; null when malformed. */
function tnetstringDict(bytes: Buffer, from: number, to: number): string[] | null {
  const pairs: string[] = [];
  let at = from;
  while (at < to) {
    const keyStart = netstring(bytes, at, to);
    const keyEnd = netEnd;
    if (keyStart < 0 || bytes[keyEnd] !== COMMA || keyEnd === keyStart) return null; // keys are non-empty strings
    const valueStart = netstring(bytes, keyEnd + 1, to);
    const valueEnd = netEnd;
    if (valueStart < 0) return null;
    const value = tnetstringValue(bytes, valueStart, valueEnd, bytes[valueEnd]!);
    if (value === null) return null;
    if (value !== undefined) pairs.push(bytes.toString('latin1', keyStart, keyEnd), value);
    at = valueEnd + 1;
  }
  return pairs;
}

/** A header value: a string, a number or boolean as written, a list joined with ", "; undefined for null. */
function tnetstringValue(bytes: Buffer, start: number, end: number, type: number): string | undefined | null {
  switch (String.fromCharCode(type)) {
    case ',':
    case '#':
    case '^':
    case '!':
      return bytes.toString('latin1', start, end);
    case '~':
      return undefined;
    case ']': {
      const items: string[] = [];
      for (let at = start; at < end; ) {
        const itemStart = netstring(bytes, at, end);
        if (itemStart < 0 || bytes[netEnd] !== COMMA) return null;
        items.push(bytes.toString('latin1', itemStart, netEnd));
        at = netEnd + 1;
      }
      return items.join(', ');
    }
    default:
      return null;
  }
}

/** JSON headers as flat [key, value, …]: strings kept, arrays of strings joined with ", ", others skipped. */
function jsonHeaders(text: string): string[] | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
  const pairs: string[] = [];
  for (const key in parsed) {
    const value = (parsed as Record<string, unknown>)[key];
    if (typeof value === 'string') pairs.push(key, value);
    else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) pairs.push(key, value.join(', '));
  }
  return pairs;
}

function isDisconnect(body: Buffer | null): boolean {
  if (body === null || body.length === 0) return false;
  try {
    const message = JSON.parse(body.toString('utf8')) as { type?: unknown } | null;
    return message !== null && typeof message === 'object' && message.type === 'disconnect';
  } catch {
    return false;
  }
}

/** C's atoi: leading digits, 0 if none. */
function atoi(text: string): number {
  const match = /^\s*\+?(\d+)/.exec(text);
  return match ? Number(match[1]) : 0;
}

/** uWSGI: the text after the first ':' else "80"; an IPv6 literal's own colons are skipped. */
function serverPort(host: string): string {
  const from = host.startsWith('[') ? host.indexOf(']') : 0;
  const colon = host.indexOf(':', Math.max(from, 0));
  return colon < 0 ? '80' : host.slice(colon + 1);
}

/** uWSGI 2.0 slices past the first ',' with a wrong length; the last hop (Mongrel2's peer) is meant. */
function remoteAddr(forwardedFor: string): string {
  const comma = forwardedFor.lastIndexOf(',');
  return comma < 0 ? forwardedFor : forwardedFor.slice(comma + 1).trim();
}

/** Whether the client asked to keep its connection (HTTP/1.1 unless `close`, 1.0 only with `keep-alive`). */
export function requestKeepAlive(env: Record<string, unknown>): boolean {
  const connection = typeof env.HTTP_CONNECTION === 'string' ? env.HTTP_CONNECTION.toLowerCase() : '';
  if (env.SERVER_PROTOCOL === 'HTTP/1.1') return !connection.includes('close');
  return connection.includes('keep-alive');
}

/** A response Mongrel2 can keep the connection open after: it carries Content-Length and no `Connection: close`. */
export function responseKeepsAlive(headers: ReadonlyArray<readonly [string, string]>): boolean {
  let length = false;
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower === 'content-length') length = true;
    else if (lower === 'connection' && value.toLowerCase().includes('close')) return false;
  }
  return length;
}

/** `SENDER SP len:ID1 ID2 …, SP`: what every response message to these connections starts with. */
export function responsePrefix(sender: string, connIds: string | readonly string[]): Buffer {
  const ids = typeof connIds === 'string' ? connIds : connIds.join(' ');
  return Buffer.from(`${sender} ${Buffer.byteLength(ids, 'latin1')}:${ids}, `, 'latin1');
}

/** One response message: the prefix, then `head` (latin1, may be empty) and `body[from, to)`. */
export function encodeResponse(prefix: Buffer, head: string, body?: Chunk, from = 0, to?: number): Buffer {
  const headAt = prefix.length;
  const bodyAt = headAt + head.length;
  let message: Buffer;
  if (typeof body === 'string' && from === 0 && to === undefined) {
    message = Buffer.allocUnsafe(bodyAt + Buffer.byteLength(body));
    message.write(body, bodyAt, 'utf8');
  } else {
    const bytes = body === undefined ? EMPTY : typeof body === 'string' ? Buffer.from(body) : body;
    const end = Math.min(to ?? bytes.length, bytes.length);
    message = Buffer.allocUnsafe(bodyAt + Math.max(0, end - from));
    if (end > from) message.set(bytes.subarray(from, end), bodyAt);
  }
  prefix.copy(message, 0);
  if (head.length > 0) message.write(head, headAt, 'latin1');
  return message;
}

const EMPTY = new Uint8Array(0);

/** A response message as Mongrel2 reads it. */
export interface ResponseFrame {
  sender: string;
  connIds: string[];
  /** Empty: close the connections. */
  body: Buffer;
}

/** Parses `SENDER SP len:ID1 ID2 …, SP BYTES`; throws TSGI_ERR_ZMQ_MESSAGE when malformed. */
export function parseResponse(message: Buffer): ResponseFrame {
  const bad = (why: string) => tsgiError('TSGI_ERR_ZMQ_MESSAGE', `bad Mongrel2 response: ${why}`);
  const space = message.indexOf(SP);
  if (space <= 0) throw bad('no sender UUID');
  const start = netstring(message, space + 1, message.length);
  const end = netEnd;
  if (start < 0) throw bad('connection ids are not a netstring');
  if (message[end] !== COMMA) throw bad('connection ids do not end with ","');
  if (message[end + 1] !== SP) throw bad('no space after the connection ids');
  const connIds = message.toString('latin1', start, end).split(' ');
  if (connIds.some((id) => id === '')) throw bad(`empty connection id in ${JSON.stringify(message.toString('latin1', start, end))}`);
  return { sender: message.toString('latin1', 0, space), connIds, body: message.subarray(end + 2) };
}

/** `--zmq PULL_ADDR,PUB_ADDR` → the two ZeroMQ endpoints; throws TSGI_ERR_ZMQ_ADDRESS. */
export function parseZmqSpec(spec: string): { pull: string; pub: string } {
  const parts = spec.split(',');
  const endpoint = /^[a-z]+:\/\/\S+$/;
  if (parts.length !== 2 || !endpoint.test(parts[0]!) || !endpoint.test(parts[1]!)) {
    throw tsgiError('TSGI_ERR_ZMQ_ADDRESS', `bad --zmq ${JSON.stringify(spec)}: expected PULL_ADDR,PUB_ADDR such as tcp://127.0.0.1:9997,tcp://127.0.0.1:9996`);
  }
  return { pull: parts[0]!, pub: parts[1]! };
}
