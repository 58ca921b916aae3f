/**
 * What the router needs to know of a node's response head to keep the client connection after
 * it: its status, whether it is HTTP/1.1, how its body is framed and whether it says close.
 * The bytes themselves are relayed untouched (as uWSGI does); this only reads them.
 */

export interface ResponseHead {
  /** Bytes of the head, up to and including the blank line. */
  length: number;
  status: number;
  http11: boolean;
  /** Content-Length, or -1. */
  contentLength: number;
  chunked: boolean;
  close: boolean;
}

/** Where a head ends in `bytes` (after its blank line), or -1 if it has not arrived yet. */
export function headEnd(bytes: Buffer): number {
  const at = bytes.indexOf('\r\n\r\n', 0, 'latin1');
  return at < 0 ? -1 : at + 4;
}

/** Reads the head `bytes[0, length)`; null if it is not an HTTP response head. */
export function readResponseHead(bytes: Buffer, length: number): ResponseHead | null {
  const text = bytes.toString('latin1', 0, length);
  if (!text.startsWith('HTTP/1.')) return null;
  const status = Number(text.slice(9, 12));
  if (!Number.isInteger(status) || status < 100) return null;
  const head: ResponseHead = { length, status, http11: text.charCodeAt(7) === 0x31, contentLength: -1, chunked: false, close: false };
  let line = text.indexOf('\r\n') + 2;
  while (line < length - 2) {
    const end = text.indexOf('\r\n', line);
    const colon = text.indexOf(':', line);
    if (colon > line && colon < end) readHeader(head, text.slice(line, colon), text.slice(colon + 1, end).trim());
    line = end + 2;
  }
  return head;
}

function readHeader(head: ResponseHead, name: string, value: string): void {
  // Compare lengths first: most headers are none of these three.
  switch (name.length) {
    case 14:
      if (name.toLowerCase() === 'content-length') head.contentLength = /^\d+$/.test(value) ? Number(value) : -1;
      break;
    case 17:
      if (name.toLowerCase() === 'transfer-encoding' && /chunked\s*$/i.test(value)) head.chunked = true;
      break;
    case 10:
      if (name.toLowerCase() === 'connection' && /\bclose\b/i.test(value)) head.close = true;
      break;
  }
}

/** Whether a response has no body whatever its headers say (RFC 9112 §6.3). */
export function bodiless(status: number, head: boolean): boolean {
  return head || status < 200 || status === 204 || status === 304;
}
