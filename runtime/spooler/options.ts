/**
 * The Spooler rows of the option table (runtime/options.ts).
 */
import type { OptionRow } from '../options.js';

export const SPOOLER_ROWS = [
  { name: 'spooler', kind: 'string', arg: 'DIR', section: 'Spooler', repeatable: true, help: 'run a spooler on DIR (created if missing): durable background tasks queued by uwsgi.spool() and run by uwsgi.spooler' },
  { name: 'spooler-external', kind: 'string', arg: 'DIR', section: 'Spooler', repeatable: true, help: 'uwsgi.spool() may queue into DIR, which another instance spools' },
  { name: 'spooler-processes', kind: 'int', arg: 'N', section: 'Spooler', min: 1, max: 256, default: 1, help: 'spooler processes per --spooler directory' },
  { name: 'spooler-async', kind: 'int', arg: 'N', section: 'Spooler', min: 1, max: 100_000, default: 1, help: 'tasks a spooler process runs at once, as green threads' },
  { name: 'spooler-ordered', kind: 'flag', section: 'Spooler', default: false, help: 'accepted for uWSGI compatibility: tsgi always runs the numbered priority subdirectories first, lowest first, which uWSGI does only with this flag' },
  { name: 'spooler-frequency', kind: 'number', arg: 'SECS', section: 'Spooler', min: 0.01, default: 30, help: 'how often an idle spooler rescans its directory (a task queued by this instance wakes it at once)' },
  { name: 'spooler-harakiri', kind: 'number', arg: 'SECS', section: 'Spooler', min: 0, default: 0, help: 'kill a spooler process whose task runs longer than SECS (0: never); the master respawns it and the task runs again' },
  { name: 'spooler-max-tasks', kind: 'int', arg: 'N', section: 'Spooler', min: 0, default: 0, help: 'recycle a spooler process after N tasks (0: never)' },
] as const satisfies readonly OptionRow[];
