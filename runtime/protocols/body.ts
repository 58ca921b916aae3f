/**
 * A request body read off a socket and pushed to the app (uwsgi, FastCGI): CONTENT_LENGTH
 * bytes and no more, reading paused while the app falls behind.
 */
import { PushedInput } from '../worker/input.js';

/** A connection whose request body is arriving; the connection object itself, so no closure. */
export interface BodySource {
  /** The app's side of the body; null when the request has none. */
  input: PushedInput | null;
  /** CONTENT_LENGTH bytes not yet arrived. */
  bodyLeft: number;
  /** The app fell behind: stop reading until it caught up (then resumeReading). */
  pauseReading(): void;
  resumeReading(): void;
}

/** A body of `length` bytes is coming: the app reads it from the input returned. */
export function expectBody(source: BodySource, length: number): PushedInput {
  source.bodyLeft = length;
  return (source.input = new PushedInput(length, () => source.resumeReading()));
}

/** Hands the next part of the body to the app; bytes past CONTENT_LENGTH are dropped. */
export function feedBody(source: BodySource, chunk: Buffer): void {
  const input = source.input;
  if (input === null || source.bodyLeft === 0) return;
  const part = chunk.length > source.bodyLeft ? chunk.subarray(0, source.bodyLeft) : chunk;
  source.bodyLeft -= part.length;
  if (!input.push(part)) source.pauseReading();
  if (source.bodyLeft === 0) input.end();
}
