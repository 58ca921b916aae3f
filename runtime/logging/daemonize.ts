/**
 * `--daemonize X` / `--daemonize2 X`: the instance detaches from the terminal. Node cannot
 * fork, so the command starts itself again as a new session leader (setsid through `detached`)
 * with stdin on /dev/null and stdout/stderr on the log file, and exits; the daemon re-reads
 * the same command line, finds TSGI_DAEMONIZED set and serves, logging to X. `--daemonize`
 * returns at once (uWSGI detaches before loading the app); `--daemonize2` waits until the
 * daemon's app is loaded and its workers are ready, so a boot failure still shows in the
 * terminal and in the exit code. The daemon says it is ready on an extra pipe (fd 3).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { tsgiError } from '../errors.js';
import { native } from '../native.js';
import type { Options } from '../options.js';
import { logtoTarget } from './spec.js';

const READY_FD = 3;

/** In the foreground command: starts the daemon and resolves once this process should exit (it never resolves in a daemon). */
export async function daemonize(options: Options, argv: readonly string[], startDir: string): Promise<number | undefined> {
  const target = options.daemonize ?? options.daemonize2;
  if (target === undefined || process.env.TSGI_DAEMONIZED) return undefined;
  const late = options.daemonize === undefined;
  const spec = logtoTarget(target);
  let out: number | 'ignore' = 'ignore';
  if (spec.type === 'file') {
    try {
      out = openSync(resolve(startDir, spec.path), 'a', 0o640);
    } catch (error) {
      throw tsgiError('TSGI_ERR_LOG_OPEN', `cannot open the --daemonize log file ${spec.path}: ${(error as Error).message}`);
    }
  }
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...argv], {
    cwd: startDir,
    detached: true,
    stdio: ['ignore', out, out, late ? 'pipe' : 'ignore'],
    env: { ...process.env, TSGI_DAEMONIZED: late ? '2' : '1' },
  });
  if (typeof out === 'number') closeSync(out);
  const pid = child.pid;
  if (!late) {
    child.unref();
    process.stderr.write(`tsgi: daemonized (pid ${pid}), logging to ${target}\n`);
    return 0;
  }
  return new Promise((done) => {
    child.stdio[3]!.once('data', () => {
      process.stderr.write(`tsgi: daemonized (pid ${pid}) once ready, logging to ${target}\n`);
      done(0);
    });
    child.once('exit', (code, signal) => {
      process.stderr.write(`tsgi: TSGI_ERR_LOG_DAEMONIZE: the daemon (pid ${pid}) exited (${code ?? signal}) before it was ready: see ${target}\n`);
      done(code || 1);
    });
  });
}

let readyFd: number | undefined;

/**
 * In a `--daemonize2` daemon, first thing: keep the ready pipe on a close-on-exec fd, so the
 * children the master spawns (attached daemons above all) do not hold it open.
 */
export function takeReadyPipe(): void {
  if (process.env.TSGI_DAEMONIZED !== '2') return;
  delete process.env.TSGI_DAEMONIZED;
  process.env.TSGI_DAEMONIZED = '1'; // the targets still read it; a reload's re-exec must not wait again
  try {
    readyFd = native.dup(READY_FD);
    closeSync(READY_FD);
  } catch {
    readyFd = undefined; // started by hand with TSGI_DAEMONIZED=2: nobody waits
  }
}

/** Tells the waiting command that the daemon is ready (once). */
export function daemonReady(): void {
  if (readyFd === undefined) return;
  try {
    writeSync(readyFd, 'ready\n');
    closeSync(readyFd);
  } catch {
    // the command was killed meanwhile: nobody to tell
  }
  readyFd = undefined;
}
