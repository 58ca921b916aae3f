/**
 * A full reload re-reads the configuration, as uWSGI's re-exec on SIGHUP does: the command line
 * is run again (its config files read afresh), and whatever the children read when they are
 * spawned (workers, async cores, the app module, reload-mercy, buffer sizes…) takes effect with
 * the new generation. What the master built once at boot and children inherit (bound sockets,
 * the shared region's cache and queue, the stats server, the FIFO, the spooler pool) is kept,
 * and one log line names it. A broken config cancels the reload: the running instance serves on.
 */
import { optionsFromCommandLine } from '../boot/read-options.js';
import { isTsgiError } from '../errors.js';
import { log } from '../logger.js';
import { OPTION_ROWS, type Options } from '../options.js';

/** Reads the options afresh; throws the typed config error (naming file:line) when they are bad. */
export type ReadOptions = () => Options | undefined;

/** Built once at boot and inherited by every child: changing them needs a restart. */
export const RESTART_ONLY: readonly string[] = [
  // bound by the master before any child exists; the children inherit the fds
  'socket', 'http-socket', 'fastcgi-socket', 'protocol', 'listen', 'no-defer-accept',
  // the shared region every child maps: its layout cannot change under the old generation
  'cache', 'cache-blocksize', 'cache-store', 'cache-expire-freq', 'queue', 'queue-blocksize',
  // master-side servers and files made at start
  'stats', 'stats-http', 'stats-minified', 'master', 'pidfile', 'master-fifo', 'cron',
  // the spooler pool's shape and its board in the shared region
  'spooler', 'spooler-processes',
  // the thread board in the shared region is laid out for this many threads per worker
  'threads',
];

/** A reader that re-runs `argv` where tsgi started (relative config paths resolve there, as at boot). */
export function commandLineReader(argv: readonly string[], startDir: string): ReadOptions {
  return () => {
    const before = process.cwd();
    let after = before;
    process.chdir(startDir);
    try {
      const options = optionsFromCommandLine([...argv]);
      if (options !== undefined) {
        process.chdir(options.chdir ?? startDir); // a new --chdir applies to the new children
        after = process.cwd();
      }
      return options;
    } finally {
      process.chdir(after);
    }
  };
}

/** The options to reload with, or undefined (logged, one line) when the config cannot be used. */
export function reconfigured(current: Options, read: ReadOptions): Options | undefined {
  let next: Options | undefined;
  try {
    next = read();
  } catch (error) {
    const why = isTsgiError(error) ? `${error.code}: ${error.message}` : (error as Error).message;
    log(`config re-read failed, reload cancelled (the running workers serve on): ${why.replace(/\n\s*/g, ' | ')}`);
    return undefined;
  }
  if (next === undefined) {
    log('config re-read: the command line asks for nothing to run (--dry-run, --help, --version): reload cancelled');
    return undefined;
  }
  const kept = RESTART_ONLY.filter((name) => differ(current, next, name));
  for (const name of kept) (next as unknown as Record<string, unknown>)[name] = (current as unknown as Record<string, unknown>)[name];
  const changed = OPTION_ROWS.filter((row) => differ(current, next, row.name)).map((row) => `--${row.name} ${show(current, row.name)} → ${show(next, row.name)}`);
  log(changed.length === 0 ? 'config re-read: no option changed' : `config re-read: ${changed.join(', ')}`);
  if (kept.length > 0) log(`config re-read: ${kept.map((name) => `--${name}`).join(', ')} cannot change without a restart: keeping the running value${kept.length > 1 ? 's' : ''}`);
  return next;
}

function differ(a: Options, b: Options, name: string): boolean {
  return show(a, name) !== show(b, name);
}

function show(options: Options, name: string): string {
  return JSON.stringify((options as unknown as Record<string, unknown>)[name]) ?? 'unset';
}
