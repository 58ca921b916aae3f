/**
 * An exception that escapes the app outside a request (a timer callback, an unawaited Promise)
 * is logged as one line and the worker keeps serving: one bad callback must not take every
 * in-flight request of the worker down with it.
 */
import { logError } from '../logger.js';

export function installCrashLogging(): void {
  process.on('uncaughtException', (error) => logError('uncaught exception (the worker keeps serving)', error));
  process.on('unhandledRejection', (reason) => logError('unhandled rejection (the worker keeps serving)', reason));
}
