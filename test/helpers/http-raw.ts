/**
 * A raw HTTP/1.x client that keeps every byte the server sends (head, chunk framing, what comes
 * after a close), for the byte-level `--http-socket` tests. `useHttpPort(port)` sets the server
 * that `RawConn.open()`, `get()` and `post()` address by default.
 */
import { connect, type Socket } from 'node:net';
import * as assert from 'uvu/assert';

let defaultPort = 0;
/** The TCP port `RawConn.open()` connects to and `get()`/`post()` name in Host by default. */
export function useHttpPort(port: number): void {
  defaultPort = port;
}

export interface RawResponse {
  statusLine: string;
  status: number;
  headers: Array<[string, string]>;
  /** The decoded body (chunk framing removed). */
  body: Buffer;
  /** The body bytes exactly as received, chunk framing included. */
  rawBody: Buffer;
  /** Head and body exactly as received. */
  raw: Buffer;
}

export function headerValues(response: RawResponse, name: string): string[] {
  return response.headers.filter(([key]) => key.toLowerCase() === name.toLowerCase()).map(([, value]) => value);
}

export function header(response: RawResponse, name: string): string | undefined {
  const values = headerValues(response, name);
  if (values.length > 1) throw new Error(`${values.length} ${name} headers: ${JSON.stringify(values)}`);
  return values[0];
}

export const CRLF = Buffer.from('\r\n');

/**
 * Parses one response at the start of `buffer`; null while it is incomplete. `closed`: the
 * server has closed, so a body without framing ends here. `noBody`: the request was HEAD.
 */
export function parseResponse(buffer: Buffer, closed: boolean, noBody: boolean): { response: RawResponse; used: number } | null {
  const headEnd = buffer.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const [statusLine = '', ...lines] = buffer.toString('latin1', 0, headEnd).split('\r\n');
  const headers = lines.map((line): [string, string] => {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`bad header line ${JSON.stringify(line)} in ${JSON.stringify(buffer.toString('latin1', 0, headEnd))}`);
    return [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
  if (!/^HTTP\/1\.[01] \d{3}( |$)/.test(statusLine)) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
  const status = Number(statusLine.slice(9, 12));
  const bodyStart = headEnd + 4;
  const make = (rawBody: Buffer, body: Buffer, used: number) => ({
    response: { statusLine, status, headers, body, rawBody, raw: buffer.subarray(0, used) },
    used,
  });
  const te = headers.find(([key]) => key.toLowerCase() === 'transfer-encoding')?.[1];
  const cl = headers.find(([key]) => key.toLowerCase() === 'content-length')?.[1];
  if (noBody || status < 200 || status === 204 || status === 304) return make(Buffer.alloc(0), Buffer.alloc(0), bodyStart);
  if (te !== undefined && /chunked/i.test(te)) {
    const parts: Buffer[] = [];
    let at = bodyStart;
    for (;;) {
      const lineEnd = buffer.indexOf(CRLF, at);
      if (lineEnd < 0) return null;
      const sizeText = buffer.toString('latin1', at, lineEnd);
      if (!/^[0-9a-fA-F]+(;.*)?$/.test(sizeText)) throw new Error(`bad chunk size line ${JSON.stringify(sizeText)} at ${at}`);
      const size = parseInt(sizeText, 16);
      const dataStart = lineEnd + 2;
      if (size === 0) {
        // No trailers: the last chunk is followed by an empty line.
        if (buffer.length < dataStart + 2) return null;
        if (!buffer.subarray(dataStart, dataStart + 2).equals(CRLF)) throw new Error('no CRLF after the last chunk');
        return make(buffer.subarray(bodyStart, dataStart + 2), Buffer.concat(parts), dataStart + 2);
      }
      if (buffer.length < dataStart + size + 2) return null;
      parts.push(buffer.subarray(dataStart, dataStart + size));
      if (!buffer.subarray(dataStart + size, dataStart + size + 2).equals(CRLF)) throw new Error(`no CRLF after a ${size}-byte chunk`);
      at = dataStart + size + 2;
    }
  }
  if (cl !== undefined) {
    const length = Number(cl);
    if (buffer.length < bodyStart + length) return null;
    const body = buffer.subarray(bodyStart, bodyStart + length);
    return make(body, body, bodyStart + length);
  }
  if (!closed) return null;
  const body = buffer.subarray(bodyStart);
  return make(body, body, buffer.length);
}

export class RawConn {
  static readonly all = new Set<RawConn>();
  #buffer = Buffer.alloc(0);
  #wake: Array<() => void> = [];
  /** Date.now() when the server's FIN (or a reset) arrived; 0 while open. */
  closedAt = 0;
  reset = false;
  readonly closed: Promise<number>;

  private constructor(readonly socket: Socket) {
    RawConn.all.add(this);
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#notify();
    });
    this.closed = new Promise((resolve) => {
      const onClose = () => {
        if (this.closedAt === 0) this.closedAt = Date.now();
        this.#notify();
        resolve(this.closedAt);
      };
      socket.on('end', onClose);
      socket.on('close', onClose);
      socket.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'ECONNRESET') this.reset = true;
        onClose();
      });
    });
  }

  static open(target: { port: number } | { path: string } = { port: defaultPort }): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const socket = 'port' in target ? connect(target.port, '127.0.0.1') : connect(target.path);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawConn(socket));
      });
    });
  }

  #notify(): void {
    for (const wake of this.#wake.splice(0)) wake();
  }

  /** Resolves on the next data or close event, or after `ms`. */
  #next(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  get isClosed(): boolean {
    return this.closedAt !== 0;
  }

  /** What arrived and was not consumed by response() yet. */
  get pending(): Buffer {
    return this.#buffer;
  }

  write(bytes: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(bytes, (error) => (error ? reject(error) : resolve())));
  }

  /** Waits for one whole response and consumes it. */
  async response(opts: { head?: boolean; timeoutMs?: number } = {}): Promise<RawResponse> {
    const deadline = Date.now() + (opts.timeoutMs ?? 5000);
    for (;;) {
      const parsed = parseResponse(this.#buffer, this.isClosed, opts.head ?? false);
      if (parsed !== null) {
        this.#buffer = this.#buffer.subarray(parsed.used);
        return parsed.response;
      }
      if (this.isClosed) throw new Error(`connection closed${this.reset ? ' (reset)' : ''} before a whole response; got ${describe(this.#buffer)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no whole response within ${opts.timeoutMs ?? 5000} ms; got ${describe(this.#buffer)}`);
      await this.#next(left);
    }
  }

  /** Waits until the server closes (rejects after `timeoutMs`); resolves with the unread bytes. */
  async untilClosed(timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (!this.isClosed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`the server did not close the connection within ${timeoutMs} ms; got ${describe(this.#buffer)}`);
      await this.#next(left);
    }
    return this.#buffer;
  }

  /** Waits `ms` and tells whether the server closed meanwhile. */
  async closesWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.isClosed && Date.now() < deadline) await this.#next(deadline - Date.now());
    return this.isClosed;
  }

  destroy(): void {
    this.socket.destroy();
    RawConn.all.delete(this);
  }
}

export function describe(bytes: Buffer): string {
  const text = bytes.toString('latin1');
  return `${bytes.length} bytes ${JSON.stringify(text.length > 600 ? `${text.slice(0, 600)}…` : text)}`;
}

/** A GET request's bytes. */
export function get(path: string, extra = '', version = '1.1'): string {
  return `GET ${path} HTTP/${version}\r\nHost: 127.0.0.1:${defaultPort}\r\n${extra}\r\n`;
}

/** A POST with a Content-Length body. */
export function post(path: string, body: Buffer | string, extra = ''): Buffer {
  const bytes = Buffer.from(body);
  return Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${defaultPort}\r\nContent-Length: ${bytes.length}\r\n${extra}\r\n`, 'latin1'), bytes]);
}

/** Runs `body` with a fresh connection that is destroyed afterwards. */
export async function withConn<T>(body: (conn: RawConn) => Promise<T>, target?: { port: number } | { path: string }): Promise<T> {
  const conn = await RawConn.open(target);
  try {
    return await body(conn);
  } finally {
    conn.destroy();
  }
}

export async function expectPath(conn: RawConn, path: string): Promise<RawResponse> {
  const response = await conn.response();
  assert.is(response.status, 200, `status of ${path}: ${describe(response.raw)}`);
  assert.is(response.body.toString(), `path ${path}\n`);
  return response;
}
