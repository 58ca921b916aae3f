/**
 * Client side of the uwsgi protocol for tests and benchmarks: packet encoders, an nginx-like
 * vars builder and a one-shot request over node:net.
 */
import { connect } from 'node:net';

/** Vars as an object, or as ordered pairs when order or duplicate keys matter. */
export type UwsgiVars = Record<string, string> | Array<[string, string]>;

/** A response as read from a uwsgi socket: raw HTTP bytes ending at connection close. */
export interface RawHttpResponse {
  raw: Buffer;
  /** 0 when the server closed without sending anything (how uWSGI drops a bad packet). */
  status: number;
  statusLine: string;
  headers: Array<[string, string]>;
  body: Buffer;
}

const MAX_U16 = 0xffff;

/** Where {@link uwsgiRequest} connects: TCP or a unix socket path. */
export type UwsgiTarget = { port: number; host?: string } | { path: string };

/**
 * Encodes a uwsgi dictionary. Keys and values are written as latin1, the inverse of the
 * parser's decoding; a character above U+00FF throws instead of being silently mangled.
 */
export function encodeVars(vars: UwsgiVars): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of Array.isArray(vars) ? vars : Object.entries(vars)) {
    parts.push(lengthPrefixed(latin1Bytes(key)), lengthPrefixed(latin1Bytes(value)));
  }
  return Buffer.concat(parts);
}

/**
 * Encodes a whole request packet: header, dictionary, then the body as is. Nothing is added
 * implicitly: pass CONTENT_LENGTH yourself if the body should be read. String bodies are UTF-8.
 */
export function encodeUwsgiPacket(
  vars: UwsgiVars,
  body: Buffer | string = Buffer.alloc(0),
  modifier1 = 0,
  modifier2 = 0,
): Buffer {
  const dict = encodeVars(vars);
  if (dict.length > MAX_U16) throw new RangeError(`vars block of ${dict.length} bytes exceeds 65535`);
  const header = Buffer.from([modifier1, dict.length & 0xff, dict.length >> 8, modifier2]);
  return Buffer.concat([header, dict, typeof body === 'string' ? Buffer.from(body) : body]);
}

/** Encodes a uwsgi "array" (RPC arguments, cache set). String items are UTF-8. */
export function encodeArray(items: Array<string | Buffer>): Buffer {
  return Buffer.concat(items.map((item) => lengthPrefixed(typeof item === 'string' ? Buffer.from(item) : item)));
}

function lengthPrefixed(bytes: Buffer): Buffer {
  if (bytes.length > MAX_U16) throw new RangeError(`item of ${bytes.length} bytes exceeds 65535`);
  return Buffer.concat([Buffer.from([bytes.length & 0xff, bytes.length >> 8]), bytes]);
}

function latin1Bytes(text: string): Buffer {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0xff) throw new RangeError(`not latin1 at index ${i}: ${JSON.stringify(text)}`);
  }
  return Buffer.from(text, 'latin1');
}

/** Options of {@link nginxLikeVars}. */
export interface NginxLikeOptions {
  /** Client request headers, sent as HTTP_* vars after the params. Default: Host: localhost. */
  headers?: UwsgiVars;
  /** Request came over TLS: REQUEST_SCHEME https, HTTPS on, SERVER_PORT 443. */
  https?: boolean;
  /** Extra `uwsgi_param` lines: a stock name replaces its value in place, others are appended. */
  params?: Record<string, string>;
}

/**
 * The vars nginx sends with the stock `uwsgi_params` file, in its order, followed by every
 * request header as HTTP_NAME (uppercased, '-' → '_', duplicates kept). As in nginx, HTTPS is
 * `if_not_empty` so it is only sent for https, and CONTENT_TYPE / CONTENT_LENGTH are always
 * sent, empty when the request has no such header.
 */
export function nginxLikeVars(method: string, uri: string, options: NginxLikeOptions = {}): Array<[string, string]> {
  const headers = options.headers ?? [['Host', 'localhost']];
  const headerPairs = Array.isArray(headers) ? headers : Object.entries(headers);
  const headerValue = (name: string) => headerPairs.find(([key]) => key.toLowerCase() === name)?.[1] ?? '';
  const queryAt = uri.indexOf('?');
  const https = options.https === true;
  const stock: Array<[string, string]> = [
    ['QUERY_STRING', queryAt < 0 ? '' : uri.slice(queryAt + 1)],
    ['REQUEST_METHOD', method],
    ['CONTENT_TYPE', headerValue('content-type')],
    ['CONTENT_LENGTH', headerValue('content-length')],
    ['REQUEST_URI', uri],
    ['PATH_INFO', nginxDocumentUri(queryAt < 0 ? uri : uri.slice(0, queryAt))],
    ['DOCUMENT_ROOT', '/usr/share/nginx/html'],
    ['SERVER_PROTOCOL', 'HTTP/1.1'],
    ['REQUEST_SCHEME', https ? 'https' : 'http'],
    ...(https ? [['HTTPS', 'on'] as [string, string]] : []),
    ['REMOTE_ADDR', '127.0.0.1'],
    ['REMOTE_PORT', '54321'],
    ['SERVER_PORT', https ? '443' : '80'],
    ['SERVER_NAME', 'localhost'],
  ];
  const params = { ...options.params };
  for (const pair of stock) {
    if (Object.hasOwn(params, pair[0])) {
      pair[1] = params[pair[0]];
      delete params[pair[0]];
    }
  }
  const httpVars = headerPairs.map(([name, value]): [string, string] => [
    'HTTP_' + name.toUpperCase().replaceAll('-', '_'),
    value,
  ]);
  return [...stock, ...Object.entries(params), ...httpVars];
}

/** nginx's `$document_uri`: the path percent-decoded (bytes as latin1), slashes merged, dot segments resolved. */
function nginxDocumentUri(path: string): string {
  const decoded = path.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  const segments: string[] = [];
  for (const segment of decoded.split('/')) {
    if (segment === '..') segments.pop();
    else if (segment !== '' && segment !== '.') segments.push(segment);
  }
  const trailingSlash = segments.length > 0 && /\/(\.\.?)?$/.test(decoded);
  return '/' + segments.join('/') + (trailingSlash ? '/' : '');
}

/**
 * Sends one request packet and reads the response until the server closes the connection.
 * The client never half-closes (nginx does not either), and a reset after the request counts
 * as the end of the response. Rejects on connect errors or after `timeoutMs` of silence.
 */
export function uwsgiRequest(
  target: UwsgiTarget,
  vars: UwsgiVars,
  body?: Buffer | string,
  options: { modifier1?: number; modifier2?: number; timeoutMs?: number } = {},
): Promise<RawHttpResponse> {
  const packet = encodeUwsgiPacket(vars, body, options.modifier1, options.modifier2);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let connected = false;
    const socket = 'path' in target ? connect(target.path) : connect(target.port, target.host ?? '127.0.0.1');
    const finish = () => {
      const raw = Buffer.concat(chunks);
      try {
        resolve(raw.length === 0 ? emptyResponse() : parseRawHttpResponse(raw));
      } catch (error) {
        reject(error);
      }
    };
    socket.setTimeout(options.timeoutMs ?? 10_000, () =>
      socket.destroy(new Error(`uwsgi request timed out after ${chunks.length} chunks`)),
    );
    socket.on('connect', () => {
      connected = true;
      socket.write(packet);
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', finish);
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (connected && error.code === 'ECONNRESET') finish();
      else reject(error);
    });
  });
}

function emptyResponse(): RawHttpResponse {
  return { raw: Buffer.alloc(0), status: 0, statusLine: '', headers: [], body: Buffer.alloc(0) };
}

/**
 * Splits raw HTTP response bytes into status line, headers and body (headers decoded as
 * latin1). Throws when there is no end of headers or a header line has no colon.
 */
export function parseRawHttpResponse(raw: Buffer): RawHttpResponse {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) {
    throw new Error(`no end of headers in ${raw.length}-byte response: ${JSON.stringify(raw.toString('latin1', 0, 200))}`);
  }
  const [statusLine, ...headerLines] = raw.toString('latin1', 0, headEnd).split('\r\n');
  const headers = headerLines.map((line): [string, string] => {
    const colon = line.indexOf(':');
    if (colon < 0) throw new Error(`header line without a colon: ${JSON.stringify(line)}`);
    return [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
  return {
    raw,
    status: Number.parseInt(statusLine.split(' ')[1] ?? '', 10),
    statusLine,
    headers,
    body: raw.subarray(headEnd + 4),
  };
}
