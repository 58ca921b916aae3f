/**
 * Node's own HTTP/1 request parser (llhttp, the HTTPParser node:http drives) as tsgi uses it,
 * and the request lines tsgi refuses although llhttp parses them. Shared by the `--http-socket`
 * server and the `--http` router, so both apply the same limits and answer garbage the same way.
 */
import { createRequire } from 'node:module';
import type { ErrorCode } from '../../errors.js';

/** The parts of node's internal HTTPParser (node:_http_common) that tsgi uses. */
export interface NodeHttpParser<Connection = unknown> {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | ParseError;
  free(): void;
  connection: Connection | null;
  [callback: number]: unknown;
}
interface NodeHttpParserClass {
  new <Connection>(): NodeHttpParser<Connection>;
  REQUEST: number;
  kOnMessageBegin: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
}
export type ParseError = Error & { code?: string; reason?: string };

export const { HTTPParser, methods } = createRequire(import.meta.url)('_http_common') as { HTTPParser: NodeHttpParserClass; methods: string[] };

/** node:http's default: 16 KiB of headers (more gets 431). */
export const MAX_HEADER_SIZE = 16 * 1024;

/** What a refused request is answered with (by the status of its error code). */
export const REFUSALS: Readonly<Record<number, string>> = {
  400: '400 Bad Request',
  405: '405 Method Not Allowed',
  408: '408 Request Timeout',
  413: '413 Request Entity Too Large',
  431: '431 Request Header Fields Too Large',
  502: '502 Bad Gateway',
  504: '504 Gateway Timeout',
  505: '505 HTTP Version Not Supported',
};

/**
 * Request lines llhttp parses but tsgi does not serve, answered as nginx answers them: HTTP/2.0
 * and up in an HTTP/1 request line 505, HTTP/0.9 400, CONNECT 405 (tsgi is not a proxy), and the
 * asterisk form with anything but OPTIONS 400 (RFC 9112 §3.2.4). Null: serve it.
 */
export function refuse(method: string, url: string, major: number): (ParseError & { tsgiCode: ErrorCode }) | null {
  if (major !== 1) {
    return major > 1
      ? refusal('TSGI_ERR_HTTP_VERSION', 'HPE_INVALID_VERSION', `HTTP/${major}.x in an HTTP/1 request line`)
      : refusal('TSGI_ERR_HTTP_PARSE', 'HPE_INVALID_VERSION', 'an HTTP/0.9 request line with a version');
  }
  if (method === 'CONNECT') return refusal('TSGI_ERR_HTTP_METHOD', 'CONNECT', `CONNECT ${url}: tsgi is not a proxy`);
  if (url === '*' && method !== 'OPTIONS') return refusal('TSGI_ERR_HTTP_PARSE', 'HPE_INVALID_URL', `the target * with ${method} (only OPTIONS takes it)`);
  return null;
}

function refusal(tsgiCode: ErrorCode, code: string, message: string): ParseError & { tsgiCode: ErrorCode } {
  return Object.assign(new Error(message), { code, tsgiCode });
}

/** `http://authority/path?query` (RFC 9112 §3.2.2): what a client sends a proxy, and a server must accept. */
export const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)/i;
