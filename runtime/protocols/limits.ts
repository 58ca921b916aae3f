/**
 * `--limit-post`: a request body larger than the limit is refused with 413 before the app runs,
 * as soon as the request's env is complete (its CONTENT_LENGTH says so), on every protocol; the
 * client is not made to send a body nobody will read. A chunked HTTP body announces no length:
 * it is cut off where it passes the limit (see {@link bodyPassedLimit}).
 */
import { log } from '../logger.js';
import type { Options } from '../options.js';

/** The limit in bytes, Infinity for none: one compare per request with a body. */
export function limitPostOf(options: Options): number {
  return options['limit-post'] > 0 ? options['limit-post'] : Infinity;
}

/** One log line for a refused body, the same on every protocol: `connection` says which. */
export function logLimitPost(protocol: string, connection: string, length: number, limit: number): void {
  log(`${protocol}: ${connection}: TSGI_ERR_LIMIT_POST: CONTENT_LENGTH ${length} exceeds --limit-post ${limit}: answered 413 without running the app`);
}

/** Why a chunked body was cut off, for the log line and the app's failed read. */
export function bodyPassedLimit(received: number, limit: number): string {
  return `the chunked body passed --limit-post ${limit} (${received} bytes so far)`;
}

