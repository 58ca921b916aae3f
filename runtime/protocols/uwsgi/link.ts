/**
 * Links, the worker's end: a connection from this instance's own HTTP router (modifier2
 * LINK_MODIFIER2) carries the next request once a response framed by its Content-Length is
 * out. The router keeps its end by the same rule (routers/http/exchange.ts), so both agree
 * where each response ends; whatever else ends the link as any uwsgi connection ends.
 */
import type { Chunk } from '../../../green/thread.js';
import type { Core } from '../../worker/core.js';
import type { Environ } from '../../worker/environ.js';
import { isChunkedRequest } from '../body.js';
import { byteLength, responseHead } from '../response.js';

/** A link nobody sent a request on for this long is closed (the router gives up on its idle links sooner). */
export const LINK_IDLE_MS = 60_000;

/** What links need of a uwsgi connection. */
export interface LinkEnd {
  /** The router's link: it may carry another request after this one. */
  link: boolean;
  /** The link's first bytes (the worker's hello) are out. */
  greeted: boolean;
  /** Body bytes of a streamed response sent so far. */
  bodySent: number;
  readonly server: { readonly draining: boolean; readonly hello: Buffer };
}

/**
 * Whether the link carries another request after this response: one with a body framed by its
 * Content-Length (the app's, which a streamed body must have matched, or none yet for a whole
 * response: linkHead adds it), not for HEAD or a status without a body, not after a chunked
 * request body.
 */
export function linkSurvives(end: LinkEnd, core: Core, last: Chunk | undefined): boolean {
  const code = core.statusCode;
  if (!linkRequest(core.env!) || code < 200 || code === 204 || code === 304) return false;
  const declared = declaredLength(core);
  const length = byteLength(last);
  if (core.headersSent) return declared >= 0 && end.bodySent + length === declared;
  return declared === -1 || declared === length;
}

/** A request whose answer can leave the link open: not HEAD (its answer carries a body here), no chunked body. */
export function linkRequest(env: Environ): boolean {
  return env.REQUEST_METHOD !== 'HEAD' && !isChunkedRequest(env);
}

/** The head of a whole response on a link: the app's, with its Content-Length, and Connection: close from a stopping worker. */
export function linkHead(end: LinkEnd, core: Core, bodyLength: number): string {
  let head = responseHead(core.env!.SERVER_PROTOCOL as string, core);
  if (declaredLength(core) === -1) head = `${head.slice(0, -2)}Content-Length: ${bodyLength}\r\n\r\n`;
  // The stopping worker ends the link after this response, and says so: the router must not send another.
  if (end.server.draining) head = `${head.slice(0, -2)}Connection: close\r\n\r\n`;
  return head;
}

/** The app's Content-Length (-1: none, -2: a Transfer-Encoding, or a length that is no number). */
function declaredLength(core: Core): number {
  const headers = core.headers;
  let declared = -1;
  for (let i = 0; i < headers.length; i++) {
    const name = headers[i]![0];
    if (name.length === 14 && name.toLowerCase() === 'content-length') {
      const value = headers[i]![1];
      declared = /^\d+$/.test(value) ? Number(value) : -2;
    } else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') return -2;
  }
  return declared;
}

/** The header that tells the router a link ends with this error answer, though it has a Content-Length. */
export function closing(end: LinkEnd): string {
  return end.link ? 'Connection: close\r\n' : '';
}

/** Response bytes as they go out: a link's first ones follow the worker's hello. */
export function outgoing(end: LinkEnd, bytes: Buffer): Buffer {
  if (!end.link || end.greeted) return bytes;
  end.greeted = true;
  return Buffer.concat([end.server.hello, bytes]);
}
