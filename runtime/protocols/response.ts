/**
 * The response pieces every protocol writes the same way, whatever frames them on the wire
 * (raw HTTP for uwsgi and http, STDOUT records for FastCGI, Mongrel2 messages for zmq).
 * Plain functions on the core: the write path calls them per chunk, so they allocate only the
 * strings they return.
 */
import { DRAIN, type Chunk } from '../../green/thread.js';
import type { Core } from '../worker/core.js';
import { tsgiError } from '../errors.js';

/** Halts a request whose client went away; its `finally` blocks run. */
export const CLIENT_GONE = tsgiError('TSGI_ERR_CANCELLED', 'client disconnected');

/** Bytes a chunk takes on the wire: a string goes out as UTF-8. */
export function byteLength(chunk: Chunk | undefined): number {
  return chunk === undefined ? 0 : typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
}

/**
 * `first status`, the app's headers and the blank line, as uWSGI writes them: `first` is the
 * request's protocol (`HTTP/1.0`) for an HTTP status line, or `Status:` for a CGI response.
 */
export function responseHead(first: string, core: Core): string {
  let head = `${first} ${core.status}\r\n`;
  const headers = core.headers;
  for (let i = 0; i < headers.length; i++) head += `${headers[i]![0]}: ${headers[i]![1]}\r\n`;
  return head + '\r\n';
}

/**
 * The reason phrase of a status `abort` answers: 500 (app error), 503 (halted), or the 400/408/413
 * of a bad, stalled or too large (--limit-post) request body that the app did not catch.
 */
export function abortReason(status: number): string {
  switch (status) {
    case 400: return 'Bad Request';
    case 408: return 'Request Timeout';
    case 413: return 'Request Entity Too Large';
    case 503: return 'Service Unavailable';
    case 504: return 'Gateway Timeout';
    default: return 'Internal Server Error';
  }
}

/**
 * The whole response (head and body) for a request that failed before its headers went out:
 * an app error (500), a halt (503), a harakiri (504), a body the app could not read (400, 408);
 * `extraHeaders` (each ending in CRLF) go after Content-Length.
 */
export function errorResponse(first: string, status: number, extraHeaders = ''): string {
  const reason = abortReason(status);
  return `${first} ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${reason.length + 1}\r\n${extraHeaders}\r\n${reason}\n`;
}

/** The connection took its queued output: a thread parked on DRAIN goes on. */
export function resumeDrained(core: Core | null | undefined): void {
  if (core != null && core.waiting === DRAIN) core.resume(DRAIN, undefined);
}
