/**
 * How a process that failed to start says why: one line, the message. Only an app that threw
 * while being imported also gets its whole stack trace (the one time tsgi logs more than one
 * line): that stack points into the user's code. Any other cause (a failed bind, a zeromq
 * connect) is already in the message, and its stack would only point into tsgi.
 */
import { EXIT, isTsgiError } from '../errors.js';
import { flushLog } from '../logger.js';

/** Prints the error and returns the exit code for it. */
export function reportBootError(error: unknown, tag: string): number {
  flushLog();
  const appFailure = isTsgiError(error) && (error.code.startsWith('TSGI_ERR_APP_') || error.code === 'TSGI_ERR_NO_APP');
  const cause = appFailure ? error.cause : undefined;
  const stack = cause instanceof Error ? `\n${cause.stack ?? cause.message}` : cause !== undefined ? `\n${String(cause)}` : '';
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`${tag}: ${isTsgiError(error) ? `${error.code}: ` : ''}${message}${stack}\n`);
  return appFailure ? EXIT.APP_LOAD_ERROR : EXIT.WORKER_BOOT_ERROR;
}
