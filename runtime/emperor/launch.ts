/**
 * How a vassal is started (spec §1.2 "Spawn"): its own tsgi master (`node main.js`), or the
 * --emperor-wrapper binary (a real uWSGI) with uWSGI's argv. Its end of a socketpair is fd 3
 * (`UWSGI_EMPEROR_FD=3`), stdin is /dev/null, `UWSGI_VASSAL_X` of the Emperor's environment
 * becomes `UWSGI_X`, and under --emperor-tyrant it runs as its file's owner.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_EXTENSIONS } from '../config/expand.js';
import { tsgiError } from '../errors.js';
import type { Options } from '../options.js';
import type { VassalFile } from './monitor.js';
import { EMPEROR_FD_ENV } from './protocol.js';

const MAIN_SCRIPT = fileURLToPath(new URL('../main.js', import.meta.url));
/** The vassal's end of the socketpair: libuv makes a 'pipe' stdio entry a unix socketpair. */
const VASSAL_FD = 3;

/** uWSGI picks the loader option by extension (.js is json there too). */
function loaderOption(path: string, uwsgi: boolean): string {
  const format = CONFIG_EXTENSIONS[extname(path).toLowerCase()] ?? 'include';
  return uwsgi && format === 'sqlite3' ? '--sqlite3' : `--${format}`;
}

/**
 * The arguments after the binary, in uWSGI's order: templates and includes before, the
 * --vassal-set values, the file, then templates and includes after. tsgi has no --inherit (a
 * late include), so a tsgi vassal gets --include in its place; --set k=v becomes --k=v.
 */
export function vassalArgs(options: Options, path: string, uwsgi: boolean): string[] {
  const inherit = uwsgi ? '--inherit' : '--include';
  const pairs = (flag: string, values: readonly string[]) => values.flatMap((value) => [flag, value]);
  const sets = uwsgi ? pairs('--set', options['vassal-set']) : options['vassal-set'].map((kv) => `--${kv}`);
  return [
    ...pairs(inherit, options['vassals-inherit-before']),
    ...pairs('--include', options['vassals-include-before']),
    ...sets,
    loaderOption(path, uwsgi), path,
    ...pairs(inherit, options['vassals-inherit']),
    ...pairs('--include', options['vassals-include']),
  ];
}

export function vassalEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) {
    if (key === 'UWSGI_RELOADS' || key === 'NOTIFY_SOCKET' || key.startsWith('UWSGI_VASSAL_')) continue;
    out[key] = value;
  }
  for (const [key, value] of Object.entries(env)) if (key.startsWith('UWSGI_VASSAL_')) out[`UWSGI_${key.slice('UWSGI_VASSAL_'.length)}`] = value;
  out[EMPEROR_FD_ENV] = String(VASSAL_FD);
  return out;
}

/** The owner a tyrant runs the vassal as; root is refused (it would make a file owner a superuser). */
export function tyrantIdentity(file: VassalFile): { uid: number; gid: number } {
  if (file.uid === 0 || file.gid === 0) {
    throw tsgiError('TSGI_ERR_EMPEROR_TYRANT', `tyrant mode refuses ${file.path}: it is owned by uid ${file.uid} gid ${file.gid} (root may not own a vassal file)`);
  }
  return { uid: file.uid, gid: file.gid };
}

/** Starts the vassal of `file`; its stdio[3] is the Emperor's end of the pipe. */
export function launchVassal(options: Options, file: VassalFile): ChildProcess {
  const wrapper = options['emperor-wrapper'];
  const args = vassalArgs(options, file.path, wrapper !== undefined);
  const [command, argv] = wrapper === undefined ? [process.execPath, [...process.execArgv, MAIN_SCRIPT, ...args]] : [wrapper, args];
  const identity = options['emperor-tyrant'] ? tyrantIdentity(file) : {};
  return spawn(command, argv, { cwd: file.cwd, env: vassalEnvironment(process.env), stdio: ['ignore', 'inherit', 'inherit', 'pipe'], ...identity });
}
