/**
 * The llhttp callbacks of the router's client connections (`this` is the connection's parser):
 * a complete head becomes a {@link RoutedRequest} with its uwsgi packet built, body bytes go to
 * the node (or wait for it), and the refusals are the ones `--http-socket` makes.
 */
import type { ErrorCode } from '../../errors.js';
import { HTTPParser, methods, refuse, type NodeHttpParser, type ParseError } from '../../protocols/http/llhttp.js';
import { BodyFraming, RoutedRequest, type ClientConnection } from './client.js';
import { buildPacket, type PacketSettings } from './packet.js';

/** What the callbacks hand back to the gateway. */
export interface ParsedRequestSink {
  settings(listener: number): PacketSettings;
  keepAlive: boolean;
  remoteOf(client: ClientConnection): { address: string; port: string };
  reject(client: ClientConnection, error: ParseError, code?: ErrorCode): void;
  onRequest(client: ClientConnection, request: RoutedRequest): void;
  onBody(client: ClientConnection, request: RoutedRequest, chunk: Buffer): void;
  onBodyEnd(client: ClientConnection, request: RoutedRequest): void;
}

type Parser = NodeHttpParser<ClientConnection>;

export function newParser(sink: ParsedRequestSink): Parser {
  const parser = new HTTPParser<ClientConnection>();
  parser[HTTPParser.kOnMessageBegin] = onMessageBegin;
  parser[HTTPParser.kOnHeaders] = onHeaders;
  parser[HTTPParser.kOnHeadersComplete] = function (this: Parser, ...args: HeadArgs) {
    return onHeadersComplete(this, sink, ...args);
  };
  parser[HTTPParser.kOnBody] = function (this: Parser, chunk: Buffer) {
    const client = this.connection;
    const request = client?.parsing;
    if (request != null) sink.onBody(client!, request, chunk);
  };
  parser[HTTPParser.kOnMessageComplete] = function (this: Parser) {
    const client = this.connection;
    if (client === null) return;
    const request = client.parsing;
    client.parsing = null;
    client.headerParts = null; // trailers of a chunked body belong to no next request
    client.urlParts = '';
    if (request !== null) sink.onBodyEnd(client, request);
  };
  parser[HTTPParser.kOnExecute] = null;
  return parser;
}

function onMessageBegin(this: Parser): void {
  const client = this.connection;
  if (client !== null) client.messageSince = Date.now();
}

/** Headers beyond the first 32 pairs arrive in parts before onHeadersComplete. */
function onHeaders(this: Parser, headers: string[], url: string): void {
  const client = this.connection;
  if (client === null) return;
  (client.headerParts ??= []).push(...headers);
  client.urlParts += url;
}

/** RFC 9110 §9.2.1: sending one of these twice changes nothing. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

type HeadArgs = [major: number, minor: number, headers: string[] | undefined, method: number, url: string | undefined, statusCode: unknown, statusMessage: unknown, upgrade: boolean, shouldKeepAlive: boolean];

function onHeadersComplete(parser: Parser, sink: ParsedRequestSink, major: number, minor: number, headers: string[] | undefined, method: number, url: string | undefined,
  _statusCode: unknown, _statusMessage: unknown, upgrade: boolean, shouldKeepAlive: boolean): number {
  const client = parser.connection;
  if (client === null) return 0;
  client.messageSince = 0;
  if (headers === undefined || client.headerParts !== null) {
    headers = [...(client.headerParts ?? []), ...(headers ?? [])];
    url = client.urlParts + (url ?? '');
    client.headerParts = null;
    client.urlParts = '';
  }
  const name = methods[method]!;
  const target = url ?? '/';
  const refusal = refuse(name, target, major);
  if (refusal !== null) {
    sink.reject(client, refusal, refusal.tsgiCode);
    return 0;
  }
  const remote = sink.remoteOf(client);
  const { packet, host } = buildPacket({ method: name, target, major, minor, headers, remoteAddress: remote.address, remotePort: remote.port }, sink.settings(client.listener));
  if (packet === null) {
    sink.reject(client, Object.assign(new Error('a request with more than one Host header, or vars over 64 KiB'), { code: 'HPE_DUPLICATE_HOST' }));
    return 0;
  }
  if (host === '' && major === 1 && minor === 1) {
    // RFC 9112 §3.2: a server answers 400 to an HTTP/1.1 request without Host (as --http-socket).
    sink.reject(client, Object.assign(new Error('an HTTP/1.1 request without a Host header'), { code: 'HPE_MISSING_HOST' }));
    return 0;
  }
  const framing = upgrade ? BodyFraming.Tunnel : bodyFraming(headers);
  const clientKeepAlive = shouldKeepAlive && !upgrade;
  const expectContinue = minor === 1 && hasExpectContinue(headers);
  const retryable = framing === BodyFraming.None && SAFE_METHODS.has(name);
  const request = new RoutedRequest(packet, host, sink.keepAlive && clientKeepAlive && !client.closing, framing, name === 'HEAD', expectContinue, clientKeepAlive, retryable);
  if (framing !== BodyFraming.None) client.parsing = request;
  sink.onRequest(client, request);
  return 0;
}

/** llhttp has refused Content-Length with Transfer-Encoding (smuggling) already. */
function bodyFraming(headers: readonly string[]): BodyFraming {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length === 14 && name.toLowerCase() === 'content-length') return Number(headers[i + 1]) > 0 ? BodyFraming.Length : BodyFraming.None;
    if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') return BodyFraming.Chunked;
  }
  return BodyFraming.None;
}

function hasExpectContinue(headers: readonly string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.length === 6 && headers[i]!.toLowerCase() === 'expect') return headers[i + 1]!.toLowerCase() === '100-continue';
  }
  return false;
}
