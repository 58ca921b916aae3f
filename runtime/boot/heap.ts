/**
 * The V8 young generation (the nursery: two semi-spaces) of the processes that serve requests.
 * Left alone, V8 doubles the nursery from 1 MiB up to 16 MiB whenever enough objects survive
 * scavenges, and requests parked for a second (long-polls) survive by design: a worker then
 * carries 15–30 MiB of nursery it does not need, since tsgi's own request path allocates a few
 * KiB per request. `--max-semi-space` caps it (bench/RESULTS.md has the figures and the cost).
 *
 * V8 takes the cap only at start: workers and spoolers get node's flag when the master spawns
 * them, and a single process restarts itself once, in place, with the options already parsed.
 */
import { flushLog, log } from '../logger.js';
import { native } from '../native.js';
import type { Options } from '../options.js';

const NODE_FLAG = /--max[-_]semi[-_]space[-_]size\b/;
const RESTART_OPTIONS = 'TSGI_RESTART_OPTIONS';

/** A user who passes node's own flag, on the command line or in NODE_OPTIONS, keeps it. */
function nodeFlagGiven(): boolean {
  return process.execArgv.some((arg) => NODE_FLAG.test(arg)) || NODE_FLAG.test(process.env.NODE_OPTIONS ?? '');
}

function nurseryFlags(options: Options): string[] {
  const mib = options['max-semi-space'];
  return mib === 0 || nodeFlagGiven() ? [] : [`--max-semi-space-size=${mib}`];
}

/** Node flags for a worker or spooler: this process's own, plus the nursery cap. */
export function childExecArgv(options: Options): string[] {
  return [...process.execArgv, ...nurseryFlags(options)];
}

/**
 * A single process without the flag execs itself with it (same pid, stdio and environment).
 * The options travel in the environment rather than being parsed again, so a config read from
 * stdin or from a command's output is read once.
 */
export function restartWithNurseryCap(options: Options): void {
  const flags = nurseryFlags(options);
  if (flags.length === 0) return;
  flushLog();
  process.env[RESTART_OPTIONS] = JSON.stringify(options);
  try {
    // A vassal's pipe to its Emperor (UWSGI_EMPEROR_FD) must survive the exec, as stdio does.
    const emperorFd = Number(process.env.UWSGI_EMPEROR_FD);
    native.exec(process.execPath, [process.argv0, ...process.execArgv, ...flags, ...process.argv.slice(1)], Number.isInteger(emperorFd) ? [emperorFd] : []);
  } catch (error) {
    delete process.env[RESTART_OPTIONS];
    log(`cannot restart with ${flags.join(' ')} (${(error as Error).message}): serving with V8's own nursery sizing`);
  }
}

/** The options a restarted single process was given by its previous image, if it is one. */
export function takeRestartOptions(): Options | undefined {
  const json = process.env[RESTART_OPTIONS];
  if (json === undefined) return undefined;
  delete process.env[RESTART_OPTIONS];
  return JSON.parse(json) as Options;
}
