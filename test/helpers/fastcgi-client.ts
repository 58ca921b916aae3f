/**
 * Web-server side of FastCGI for tests and benchmarks: record and name-value encoders, a
 * decoder for what the application sends back, and a minimal client that runs requests over one
 * connection (with or without FCGI_KEEP_CONN). Written from the FastCGI 1.0 spec, independently
 * of runtime/protocols/fastcgi-parser.ts, so each checks the other.
 */
import { connect, type Socket } from 'node:net';

export const TYPE = {
  BEGIN_REQUEST: 1,
  ABORT_REQUEST: 2,
  END_REQUEST: 3,
  PARAMS: 4,
  STDIN: 5,
  STDOUT: 6,
  STDERR: 7,
  DATA: 8,
  GET_VALUES: 9,
  GET_VALUES_RESULT: 10,
  UNKNOWN_TYPE: 11,
} as const;

export const RESPONDER = 1;
export const AUTHORIZER = 2;
export const KEEP_CONN = 1;
export const PROTOCOL_STATUS = { REQUEST_COMPLETE: 0, CANT_MPX_CONN: 1, OVERLOADED: 2, UNKNOWN_ROLE: 3 } as const;

/** Params as an object, or as ordered pairs when order or duplicates matter. */
export type FastcgiParams = Record<string, string> | Array<[string, string]>;

/** One record: `version` defaults to 1, `padding` to 0 bytes. */
export function encodeRecord(type: number, requestId: number, content: Buffer | string = Buffer.alloc(0), options: { padding?: number; version?: number } = {}): Buffer {
  const body = typeof content === 'string' ? Buffer.from(content, 'latin1') : content;
  if (body.length > 0xffff) throw new RangeError(`record content of ${body.length} bytes exceeds 65535`);
  const padding = options.padding ?? 0;
  const header = Buffer.from([options.version ?? 1, type, requestId >> 8, requestId & 0xff, body.length >> 8, body.length & 0xff, padding, 0]);
  return Buffer.concat([header, body, Buffer.alloc(padding)]);
}

/** A name-value length: 1 byte below 128, else 4 bytes big-endian with the top bit set. */
export function encodeLength(length: number, forceLong = false): Buffer {
  if (length < 0x80 && !forceLong) return Buffer.from([length]);
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE((length | 0x80000000) >>> 0);
  return bytes;
}

/** Name-value pairs as latin1 (a char above U+00FF throws rather than being mangled). */
export function encodeNameValues(params: FastcgiParams): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Array.isArray(params) ? params : Object.entries(params)) {
    const n = latin1(name);
    const v = latin1(value);
    parts.push(encodeLength(n.length), encodeLength(v.length), n, v);
  }
  return Buffer.concat(parts);
}

function latin1(text: string): Buffer {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0xff) throw new RangeError(`not latin1 at index ${i}: ${JSON.stringify(text)}`);
  }
  return Buffer.from(text, 'latin1');
}

export function encodeBeginRequest(requestId: number, options: { role?: number; keepConn?: boolean } = {}): Buffer {
  const role = options.role ?? RESPONDER;
  return encodeRecord(TYPE.BEGIN_REQUEST, requestId, Buffer.from([role >> 8, role & 0xff, options.keepConn ? KEEP_CONN : 0, 0, 0, 0, 0, 0]));
}

/** `data` as records of at most `size` bytes, then the empty record that ends the stream. */
export function encodeStream(type: number, requestId: number, data: Buffer, size = 0xffff): Buffer {
  const records: Buffer[] = [];
  for (let at = 0; at < data.length; at += size) records.push(encodeRecord(type, requestId, data.subarray(at, at + size)));
  records.push(encodeRecord(type, requestId));
  return Buffer.concat(records);
}

export interface RequestEncoding {
  requestId?: number;
  keepConn?: boolean;
  /** Largest PARAMS record (default 65535): small values split pairs across records. */
  paramsRecordSize?: number;
  /** Largest STDIN record (default 65535). */
  stdinRecordSize?: number;
}

/** BEGIN_REQUEST, the PARAMS stream and the STDIN stream of one responder request. */
export function encodeRequest(params: FastcgiParams, body: Buffer | string = Buffer.alloc(0), options: RequestEncoding = {}): Buffer {
  const id = options.requestId ?? 1;
  return Buffer.concat([
    encodeBeginRequest(id, { keepConn: options.keepConn }),
    encodeStream(TYPE.PARAMS, id, encodeNameValues(params), options.paramsRecordSize),
    encodeStream(TYPE.STDIN, id, typeof body === 'string' ? Buffer.from(body) : body, options.stdinRecordSize),
  ]);
}

export interface DecodedRecord {
  version: number;
  type: number;
  requestId: number;
  content: Buffer;
  padding: number;
}

/** Splits `bytes` into whole records; `rest` is an incomplete record at the end. */
export function decodeRecords(bytes: Buffer): { records: DecodedRecord[]; rest: Buffer } {
  const records: DecodedRecord[] = [];
  let at = 0;
  while (bytes.length - at >= 8) {
    const length = bytes.readUInt16BE(at + 4);
    const padding = bytes[at + 6]!;
    if (bytes.length - at < 8 + length + padding) break;
    records.push({ version: bytes[at]!, type: bytes[at + 1]!, requestId: bytes.readUInt16BE(at + 2), content: bytes.subarray(at + 8, at + 8 + length), padding });
    at += 8 + length + padding;
  }
  return { records, rest: bytes.subarray(at) };
}

/** Name-value pairs back into ordered pairs. */
export function decodeNameValues(bytes: Buffer): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  let at = 0;
  const length = () => {
    const first = bytes[at]!;
    if (first < 0x80) return (at += 1, first);
    const value = bytes.readUInt32BE(at) & 0x7fffffff;
    at += 4;
    return value;
  };
  while (at < bytes.length) {
    const n = length();
    const v = length();
    pairs.push([bytes.toString('latin1', at, at + n), bytes.toString('latin1', at + n, at + n + v)]);
    at += n + v;
  }
  return pairs;
}

/** A CGI response (`Status:` line optional, default 200) split into status, headers and body. */
export interface CgiResponse {
  status: number;
  statusText: string;
  headers: Array<[string, string]>;
  body: Buffer;
}

export function parseCgiResponse(stdout: Buffer): CgiResponse {
  const headEnd = stdout.indexOf('\r\n\r\n');
  if (headEnd < 0) throw new Error(`no end of headers in ${stdout.length}-byte STDOUT: ${JSON.stringify(stdout.toString('latin1', 0, 200))}`);
  const headers = stdout.toString('latin1', 0, headEnd).split('\r\n').map((line): [string, string] => {
    const colon = line.indexOf(':');
    if (colon < 0) throw new Error(`header line without a colon: ${JSON.stringify(line)}`);
    return [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
  const status = headers.find(([name]) => name.toLowerCase() === 'status')?.[1] ?? '200 OK';
  return { status: Number.parseInt(status, 10), statusText: status, headers: headers.filter(([name]) => name.toLowerCase() !== 'status'), body: stdout.subarray(headEnd + 4) };
}

/** What came back for one request id. */
export interface FastcgiResult extends CgiResponse {
  requestId: number;
  stdout: Buffer;
  stderr: Buffer;
  /** The STDOUT records as received, in order (an empty one ends the stream). */
  stdoutRecords: Buffer[];
  appStatus: number;
  protocolStatus: number;
}

export type FastcgiTarget = { port: number; host?: string } | { path: string };

/**
 * One FastCGI connection driven by hand: write any bytes, then wait for records. Everything
 * received is kept in `records`; `closed` resolves when the server closes the connection.
 */
export class FastcgiConnection {
  readonly socket: Socket;
  readonly records: DecodedRecord[] = [];
  readonly connected: Promise<void>;
  readonly closed: Promise<void>;
  /** Bytes received that do not form a whole record (yet). */
  rest: Buffer = Buffer.alloc(0);
  #waiters: Array<() => void> = [];

  constructor(target: FastcgiTarget) {
    this.socket = 'path' in target ? connect(target.path) : connect(target.port, target.host ?? '127.0.0.1');
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
    this.socket.on('error', () => {}); // a reset shows up as 'close'
    this.socket.on('data', (chunk: Buffer) => {
      const { records, rest } = decodeRecords(Buffer.concat([this.rest, chunk]));
      this.rest = Buffer.from(rest);
      this.records.push(...records);
      this.#wake();
    });
    this.socket.on('close', () => this.#wake());
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  get isClosed(): boolean {
    return this.socket.destroyed;
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Resolves with the first record (from `from` on) matching `match`; rejects on close or timeout. */
  waitRecord(match: (record: DecodedRecord) => boolean, timeoutMs = 10_000, from = 0): Promise<DecodedRecord> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching record within ${timeoutMs} ms; got types ${this.records.map((r) => `${r.type}/${r.requestId}`).join(' ')}`)), timeoutMs);
      const check = () => {
        const found = this.records.slice(from).find(match);
        if (found) {
          clearTimeout(timer);
          return resolve(found);
        }
        if (this.socket.destroyed) {
          clearTimeout(timer);
          return reject(new Error(`connection closed before a matching record; got types ${this.records.map((r) => `${r.type}/${r.requestId}`).join(' ')}`));
        }
        this.#waiters.push(check);
      };
      check();
    });
  }

  /** Sends one request (see {@link encodeRequest}) and resolves once its END_REQUEST arrived. */
  async request(params: FastcgiParams, body?: Buffer | string, options: RequestEncoding & { timeoutMs?: number } = {}): Promise<FastcgiResult> {
    await this.connected;
    const id = options.requestId ?? 1;
    const from = this.records.length;
    this.write(encodeRequest(params, body, options));
    await this.waitRecord((r) => r.type === TYPE.END_REQUEST && r.requestId === id, options.timeoutMs, from);
    return collectResult(this.records.slice(from), id);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The STDOUT/STDERR streams and END_REQUEST of request `id` among `records`. */
export function collectResult(records: DecodedRecord[], id: number): FastcgiResult {
  const mine = records.filter((r) => r.requestId === id);
  const end = mine.find((r) => r.type === TYPE.END_REQUEST);
  if (!end) throw new Error(`no END_REQUEST for request ${id}`);
  const stdoutRecords = mine.filter((r) => r.type === TYPE.STDOUT).map((r) => r.content);
  const stdout = Buffer.concat(stdoutRecords);
  const stderr = Buffer.concat(mine.filter((r) => r.type === TYPE.STDERR).map((r) => r.content));
  const response = stdout.length > 0 ? parseCgiResponse(stdout) : { status: 0, statusText: '', headers: [], body: Buffer.alloc(0) };
  return { ...response, requestId: id, stdout, stderr, stdoutRecords, appStatus: end.content.readUInt32BE(0), protocolStatus: end.content[4]! };
}

/** One request on a fresh connection without FCGI_KEEP_CONN (the server closes it after). */
export async function fastcgiRequest(target: FastcgiTarget, params: FastcgiParams, body?: Buffer | string, options: RequestEncoding & { timeoutMs?: number } = {}): Promise<FastcgiResult> {
  const connection = new FastcgiConnection(target);
  try {
    return await connection.request(params, body, { ...options, keepConn: options.keepConn ?? false });
  } finally {
    connection.close();
  }
}

/**
 * The params nginx sends with Debian's stock `fastcgi_params` (no PATH_INFO; SCRIPT_NAME is the
 * path), then the request headers as HTTP_* (Host is covered by the HTTP_HOST param).
 */
export function nginxLikeFastcgiParams(method: string, uri: string, headers: Array<[string, string]> = [['Host', 'localhost']]): Array<[string, string]> {
  const queryAt = uri.indexOf('?');
  const path = decodeURIComponent(queryAt < 0 ? uri : uri.slice(0, queryAt));
  const header = (name: string) => headers.find(([key]) => key.toLowerCase() === name)?.[1] ?? '';
  return [
    ['QUERY_STRING', queryAt < 0 ? '' : uri.slice(queryAt + 1)],
    ['REQUEST_METHOD', method],
    ['CONTENT_TYPE', header('content-type')],
    ['CONTENT_LENGTH', header('content-length')],
    ['SCRIPT_NAME', path],
    ['REQUEST_URI', uri],
    ['DOCUMENT_URI', path],
    ['DOCUMENT_ROOT', '/usr/share/nginx/html'],
    ['SERVER_PROTOCOL', 'HTTP/1.1'],
    ['REQUEST_SCHEME', 'http'],
    ['GATEWAY_INTERFACE', 'CGI/1.1'],
    ['SERVER_SOFTWARE', 'nginx'],
    ['REMOTE_ADDR', '127.0.0.1'],
    ['REMOTE_PORT', '54321'],
    ['REMOTE_USER', ''],
    ['SERVER_ADDR', '127.0.0.1'],
    ['SERVER_PORT', '80'],
    ['SERVER_NAME', 'localhost'],
    ['REDIRECT_STATUS', '200'],
    ['HTTP_HOST', header('host')],
    ...headers.filter(([name]) => name.toLowerCase() !== 'host').map(([name, value]): [string, string] => [`HTTP_${name.toUpperCase().replaceAll('-', '_')}`, value]),
  ];
}
