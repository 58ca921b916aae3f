/**
 * CGI-variable rules shared by the protocols: those whose peers send a CGI environment (uwsgi,
 * FastCGI) and those that build one from HTTP headers (http, Mongrel2).
 */

/**
 * uWSGI's `get_content_length`: the value of the leading decimal digits, 0 when there are none.
 * So "12abc" is 12 and " 12" is 0.
 */
export function leadingDigits(value: unknown): number {
  if (typeof value !== 'string') return 0;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const digit = value.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) break;
    n = n * 10 + digit;
  }
  return n;
}

/**
 * Whether `buf[start..start+length)` is a key tsgi reserves (`tsgi.` + anything): those are the
 * env's own accessors (`tsgi.input` has no setter, so storing a wire var there throws) and
 * what tsgi itself sets, never something a peer may send. Callers test the first byte against
 * 't' first, so the common var costs one comparison.
 */
export function isReservedKey(buf: Buffer, start: number, length: number): boolean {
  return length >= 5 && buf[start] === 0x74 && buf[start + 1] === 0x73 && buf[start + 2] === 0x67 && buf[start + 3] === 0x69 && buf[start + 4] === 0x2e;
}

/** `tsgi.url_scheme` as uWSGI derives wsgi.url_scheme: UWSGI_SCHEME, else HTTPS on/1, else http. */
export function urlScheme(env: Record<string, unknown>): string {
  const scheme = env.UWSGI_SCHEME;
  if (typeof scheme === 'string' && scheme !== '') return scheme;
  const https = env.HTTPS;
  return typeof https === 'string' && (/^on/i.test(https) || https === '1') ? 'https' : 'http';
}

/** Raw header name → CGI name, cached: every request repeats the same few dozen names. */
const cgiNames = new Map<string, string>();
/** Beyond this many distinct names (a client inventing them), the rest are not cached. */
const CGI_NAMES_MAX = 2048;

/** 'Content-Type' → 'CONTENT_TYPE', 'X-Foo' → 'HTTP_X_FOO' (RFC 3875 §4.1.18). */
export function cgiHeaderName(header: string): string {
  let name = cgiNames.get(header);
  if (name !== undefined) return name;
  const upper = header.toUpperCase().replace(/-/g, '_');
  name = upper === 'CONTENT_TYPE' || upper === 'CONTENT_LENGTH' ? upper : `HTTP_${upper}`;
  if (cgiNames.size < CGI_NAMES_MAX) cgiNames.set(header, name);
  return name;
}

/** Percent-decodes a path into a byte string (one char per byte), as nginx's $document_uri. */
export function decodePath(path: string): string {
  if (path.indexOf('%') < 0) return path;
  return path.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
