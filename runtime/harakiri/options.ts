/**
 * The Harakiri rows of the option table (runtime/options.ts): how long a request may run, and
 * what the master does to a worker whose event loop is stuck (semantics.md §9).
 */
import { constants } from 'node:os';
import type { OptionRow } from '../options.js';

/** A graceful harakiri may send any signal the platform knows but SIGKILL, which is the step after. */
function checkGracefulSignal(value: string): void {
  if (value === 'SIGKILL' || !Object.hasOwn(constants.signals, value)) throw new Error('expected a signal name such as SIGTERM, SIGINT or SIGUSR1 (not SIGKILL)');
}

export const HARAKIRI_ROWS = [
  { name: 'harakiri', kind: 'number', arg: 'SECS', section: 'Harakiri', min: 0, default: 0, help: 'stop a request running longer than SECS (0: never): with --async only its green thread is halted (504 to the client); a worker whose event loop is stuck that long is killed and respawned' },
  { name: 'harakiri-verbose', kind: 'flag', section: 'Harakiri', default: false, help: 'log the request a harakiri stopped (method, URI, remote, age, core) and, for a stuck worker or spooler, the JavaScript stack it was running (best effort: taken through the inspector by a watchdog thread)' },
  { name: 'harakiri-graceful-timeout', kind: 'number', arg: 'SECS', section: 'Harakiri', min: 0, default: 0, help: 'send a stuck worker --harakiri-graceful-signal first and SIGKILL it only after SECS (0: SIGKILL at once, as uWSGI)' },
  { name: 'harakiri-graceful-signal', kind: 'string', arg: 'SIGNAL', section: 'Harakiri', check: checkGracefulSignal, default: 'SIGTERM', help: 'the signal a stuck worker gets first when --harakiri-graceful-timeout is set (SIGTERM: it stops gracefully if its loop frees in time)' },
] as const satisfies readonly OptionRow[];
