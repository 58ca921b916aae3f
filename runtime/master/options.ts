/**
 * The Processes rows of the option table (runtime/options.ts): the master and the workers it
 * supervises.
 */
import type { OptionRow } from '../options.js';

export const PROCESS_ROWS = [
  { name: 'master', short: 'M', kind: 'flag', section: 'Processes', default: false, help: 'run a master that supervises the workers (respawn, graceful reload on SIGHUP)' },
  { name: 'processes', short: 'p', aliases: ['workers'], kind: 'int', arg: 'N', section: 'Processes', min: 1, max: 1024, default: 1, help: 'number of pre-forked worker processes' },
  { name: 'reload-mercy', aliases: ['worker-reload-mercy'], kind: 'number', arg: 'SECS', section: 'Processes', min: 0, default: 60, help: 'how long a stopping worker may take to finish its requests before it is killed' },
  { name: 'max-semi-space', kind: 'int', arg: 'MIB', section: 'Processes', min: 0, max: 1024, default: 1, help: "cap V8's young generation (semi-space) at MIB in every process that runs the app (workers, spoolers, a single process); 0: V8 grows it to 16 MiB under load. Raise it for apps that keep MiBs per request" },
  { name: 'pidfile', kind: 'string', arg: 'PATH', section: 'Processes', help: 'write the master pid to PATH, before any --uid drop (removed at exit with --vacuum)' },
] as const satisfies readonly OptionRow[];
