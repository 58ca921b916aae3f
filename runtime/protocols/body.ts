/**
 * A request body read off a socket and pushed to the app (uwsgi, FastCGI): CONTENT_LENGTH
 * bytes and no more, reading paused while the app falls behind.
 */
import { tsgiError } from '../errors.js';
import { PushedInput } from '../worker/input.js';
import { ChunkedDecoder, ChunkedResult } from './chunked-decoder.js';

/** A connection whose request body is arriving; the connection object itself, so no closure. */
export interface BodySource {
  /** The app's side of the body; null when the request has none. */
  input: PushedInput | null;
  /** CONTENT_LENGTH bytes not yet arrived. */
  bodyLeft: number;
  /** Set while a chunked body (relayed by an HTTP router) is decoded. */
  chunked?: ChunkedDecoder | null;
  /** The app fell behind: stop reading until it caught up (then resumeReading). */
  pauseReading(): void;
  resumeReading(): void;
}

/** A body of `length` bytes is coming: the app reads it from the input returned. */
export function expectBody(source: BodySource, length: number): PushedInput {
  source.bodyLeft = length;
  return (source.input = new PushedInput(length, () => source.resumeReading()));
}

/**
 * A chunked body is coming (no CONTENT_LENGTH, `HTTP_TRANSFER_ENCODING: chunked`, as an HTTP
 * router relays it): decoded as it arrives, it ends with its last chunk.
 */
export function expectChunkedBody(source: BodySource): PushedInput {
  source.bodyLeft = Infinity;
  source.chunked = new ChunkedDecoder();
  return (source.input = new PushedInput(-1, () => source.resumeReading()));
}

/** Whether a request's vars announce a chunked body instead of a length. */
export function isChunkedRequest(env: Record<string, unknown>): boolean {
  const encoding = env.HTTP_TRANSFER_ENCODING;
  // A CONTENT_LENGTH (nginx sends one after buffering a chunked body) wins.
  return env.CONTENT_LENGTH === undefined && typeof encoding === 'string' && /chunked\s*$/i.test(encoding);
}

/** Hands the next part of the body to the app; bytes past CONTENT_LENGTH are dropped. */
export function feedBody(source: BodySource, chunk: Buffer): void {
  const input = source.input;
  if (input === null || source.bodyLeft === 0) return;
  if (source.chunked) return feedChunked(source, source.chunked, input, chunk);
  const part = chunk.length > source.bodyLeft ? chunk.subarray(0, source.bodyLeft) : chunk;
  source.bodyLeft -= part.length;
  if (!input.push(part)) source.pauseReading();
  if (source.bodyLeft === 0) input.end();
}

function feedChunked(source: BodySource, decoder: ChunkedDecoder, input: PushedInput, chunk: Buffer): void {
  let paused = false;
  const result = decoder.feed(chunk, (part) => {
    if (!input.push(part)) paused = true;
  });
  if (paused) source.pauseReading();
  if (result === ChunkedResult.More) return;
  source.bodyLeft = 0;
  source.chunked = null;
  if (result === ChunkedResult.Done) input.end();
  else input.destroy(tsgiError('TSGI_ERR_HTTP_PARSE', 'the chunked request body is malformed'));
}
