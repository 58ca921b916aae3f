/**
 * The uwsgi packet the HTTP router sends a node for one request: the 4-byte header (modifier1,
 * vars size, modifier2) and the vars in exactly uWSGI's order (spec emperor-routers.md §4):
 * REQUEST_METHOD, PATH_INFO, REQUEST_URI, QUERY_STRING, SERVER_PROTOCOL, SCRIPT_NAME,
 * SERVER_NAME, SERVER_PORT, UWSGI_ROUTER, REMOTE_ADDR, REMOTE_PORT, the headers, --http-var.
 *
 * Built in two passes over the strings (sizes, then bytes) into one exactly sized Buffer, so a
 * request costs one allocation. Every string is a byte string (llhttp hands headers and the
 * target over as latin1, decodePath keeps one char per byte), so length = bytes.
 */
import { cgiHeaderName, decodePath } from '../../protocols/cgi.js';
import { ABSOLUTE_FORM } from '../../protocols/http/llhttp.js';

/** What stays the same for every request on one listener. */
export interface PacketSettings {
  modifier1: number;
  modifier2: number;
  /** SERVER_NAME unless the Host is used (--http-server-name-as-http-host). */
  serverName: string;
  hostAsServerName: boolean;
  serverPort: string;
  /** --http-var, flattened: key, value, key, value… */
  extraVars: readonly string[];
  /** --http-underscores-in-headers: else a header named with '_' is dropped (it would spoof its dashed twin). */
  underscores: boolean;
}

/** The request head as the parser saw it. */
export interface RequestHead {
  method: string;
  target: string;
  major: number;
  minor: number;
  /** name, value, name, value… as received. */
  headers: readonly string[];
  remoteAddress: string;
  remotePort: string;
}

/** The packet, and the Host it carries (the routing key); null packet: two Host headers (400). */
export interface BuiltPacket {
  packet: Buffer | null;
  host: string;
}

/** The largest vars block a uwsgi packet can carry (its size is a u16). */
export const MAX_VARS_SIZE = 65535;

/** Reused between requests: the vars as key, value, key, value… (the router runs one request build at a time). */
const vars: string[] = [];

export function buildPacket(head: RequestHead, settings: PacketSettings): BuiltPacket {
  vars.length = 0;
  let url = head.target;
  let authority: string | undefined;
  if (url.charCodeAt(0) !== 0x2f /* '/' */) {
    const absolute = ABSOLUTE_FORM.exec(url);
    if (absolute !== null) {
      // As --http-socket: the node sees the origin form, the target's authority as Host (RFC 9112 §3.2.2).
      authority = absolute[1];
      url = url.slice(absolute[0].length);
      if (url.charCodeAt(0) !== 0x2f) url = `/${url}`;
    }
  }
  const query = url.indexOf('?');
  const start = pushHeaders(head.headers, settings.underscores, authority);
  if (start < 0) return { packet: null, host: '' };
  const host = start === 0 ? '' : vars[start]!;
  let serverName = settings.serverName;
  if (settings.hostAsServerName && host !== '') {
    const colon = host.lastIndexOf(':');
    serverName = colon > 0 && !host.endsWith(']') ? host.slice(0, colon) : host;
  }
  const front = [
    'REQUEST_METHOD', head.method,
    'PATH_INFO', decodePath(query < 0 ? url : url.slice(0, query)),
    'REQUEST_URI', url,
    'QUERY_STRING', query < 0 ? '' : url.slice(query + 1),
    'SERVER_PROTOCOL', `HTTP/${head.major}.${head.minor}`,
    'SCRIPT_NAME', '',
    'SERVER_NAME', serverName,
    'SERVER_PORT', settings.serverPort,
    'UWSGI_ROUTER', 'http',
    'REMOTE_ADDR', head.remoteAddress,
    'REMOTE_PORT', head.remotePort,
  ];
  return { packet: encode(front, settings), host };
}

/**
 * Appends the headers as CGI vars to `vars`, repeated ones joined with ", ". Returns the index
 * of the HTTP_HOST value in `vars` (0: no Host), or -1 for a second Host header.
 */
function pushHeaders(raw: readonly string[], underscores: boolean, authority: string | undefined): number {
  let hostAt = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const header = raw[i]!;
    if (!underscores && header.includes('_')) continue;
    const name = cgiHeaderName(header);
    let at = -1;
    for (let j = 0; j < vars.length; j += 2) {
      if (vars[j] === name) {
        at = j;
        break;
      }
    }
    if (at < 0) {
      if (name === 'HTTP_HOST') hostAt = vars.length + 1;
      vars.push(name, raw[i + 1]!);
    } else {
      if (name === 'HTTP_HOST') return -1;
      vars[at + 1] += `, ${raw[i + 1]!}`;
    }
  }
  if (authority !== undefined && hostAt !== 0) vars[hostAt] = authority;
  return hostAt;
}

/** Header + `front` + the header vars + --http-var, in one Buffer; null when the vars pass 64 KiB. */
function encode(front: readonly string[], settings: PacketSettings): Buffer | null {
  const extra = settings.extraVars;
  let size = 0;
  for (let i = 0; i < front.length; i++) size += 2 + front[i]!.length;
  for (let i = 0; i < vars.length; i++) size += 2 + vars[i]!.length;
  for (let i = 0; i < extra.length; i++) size += 2 + extra[i]!.length;
  if (size > MAX_VARS_SIZE) return null;
  const packet = Buffer.allocUnsafe(4 + size);
  packet[0] = settings.modifier1;
  packet.writeUInt16LE(size, 1);
  packet[3] = settings.modifier2;
  // One latin1 string for all the vars, each behind its u16le length as two chars: one write
  // into the Buffer instead of one per string (the strings are byte strings, a char per byte).
  packet.write(lengthPrefixed(lengthPrefixed(lengthPrefixed('', front), vars), extra), 4, 'latin1');
  return packet;
}

function lengthPrefixed(into: string, strings: readonly string[]): string {
  for (let i = 0; i < strings.length; i++) {
    const text = strings[i]!;
    into += String.fromCharCode(text.length & 0xff, text.length >> 8) + text;
  }
  return into;
}
