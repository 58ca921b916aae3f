/**
 * How a process that failed to start says why: the message, and for an app that threw while
 * being imported its whole stack trace (the one time tsgi logs more than one line).
 */
import { EXIT, isTsgiError } from '../errors.js';
import { flushLog } from '../logger.js';

/** Prints the error and returns the exit code for it. */
export function reportBootError(error: unknown, tag: string): number {
  flushLog();
  const cause = error instanceof Error ? error.cause : undefined;
  const stack = cause instanceof Error ? `\n${cause.stack ?? cause.message}` : cause !== undefined ? `\n${String(cause)}` : '';
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`${tag}: ${isTsgiError(error) ? `${error.code}: ` : ''}${message}${stack}\n`);
  const appFailure = isTsgiError(error) && (error.code.startsWith('TSGI_ERR_APP_') || error.code === 'TSGI_ERR_NO_APP');
  return appFailure ? EXIT.APP_LOAD_ERROR : EXIT.WORKER_BOOT_ERROR;
}
