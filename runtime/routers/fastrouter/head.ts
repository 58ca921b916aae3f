/**
 * The only parsing the FastRouter does: the routing key (and the body length) from a request's
 * vars block. The rest of the packet, every other var and the body, is forwarded as bytes,
 * never decoded.
 */

/** `latin1Slice` is undocumented but on every Buffer, and the cheapest bytes → string (see protocols/uwsgi/parser.ts). */
type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

/** Value lengths over this are ignored as keys (uWSGI's subscription key limit). */
const MAX_KEY = 255;

/** Key vars by precedence: UWSGI_FASTROUTER_KEY, else HTTP_HOST, else SERVER_NAME. */
const KEY_VARS = ['UWSGI_FASTROUTER_KEY', 'HTTP_HOST', 'SERVER_NAME'] as const;

/** What {@link readHead} found; one object per router process, overwritten by every call. */
export interface Head {
  /** '' when no key var is there. */
  key: string;
  /** The decimal CONTENT_LENGTH's leading digits (uWSGI's get_content_length), 0 without one. */
  contentLength: number;
}

const found: Head = { key: '', contentLength: 0 };

/**
 * Reads the vars block `head[4 .. 4+size]`: the shared {@link Head}, or null when the block is
 * not a valid uwsgi dict (an empty key, a length past the end), which closes the connection as
 * uWSGI does. When a var repeats, its last value counts.
 */
export function readHead(buffer: Buffer, size: number): Head | null {
  const head = buffer as Latin1Buffer;
  let best: number = KEY_VARS.length;
  found.key = '';
  found.contentLength = 0;
  for (let at = 4, end = 4 + size; at < end;) {
    if (at + 2 > end) return null;
    const keyLength = head[at]! | (head[at + 1]! << 8);
    const valueAt = at + 2 + keyLength;
    if (keyLength === 0 || valueAt + 2 > end) return null;
    const valueLength = head[valueAt]! | (head[valueAt + 1]! << 8);
    const next = valueAt + 2 + valueLength;
    if (next > end) return null;
    // Only names of a wanted var's length are compared, so most vars cost two length reads.
    if (keyLength === 14) {
      if (head.latin1Slice(at + 2, valueAt) === 'CONTENT_LENGTH') found.contentLength = leadingDigits(head, valueAt + 2, next);
    } else if (valueLength > 0 && valueLength <= MAX_KEY && (keyLength === 20 || keyLength === 9 || keyLength === 11)) {
      const rank = KEY_VARS.indexOf(head.latin1Slice(at + 2, valueAt) as (typeof KEY_VARS)[number]);
      if (rank >= 0 && rank <= best) {
        best = rank;
        found.key = head.latin1Slice(valueAt + 2, next);
      }
    }
    at = next;
  }
  return found;
}

/** The routing key alone ('' none, null malformed). */
export function routingKey(buffer: Buffer, size: number): string | null {
  return readHead(buffer, size)?.key ?? null;
}

function leadingDigits(bytes: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const digit = bytes[i]! - 48;
    if (digit < 0 || digit > 9) break;
    n = n * 10 + digit;
  }
  return n;
}
