/**
 * The jailing steps, in uWSGI's order (core/utils.c uwsgi_as_root): before binding, the umask
 * and the environment; after binding, the unix sockets' modes and owner, then unshare, chroot,
 * setgid, the supplementary groups, and setuid last (after it nothing else could be done).
 */
import { chmodSync, chownSync } from 'node:fs';
import { tsgiError } from '../errors.js';
import { log } from '../logger.js';
import { native } from '../native.js';
import type { Options } from '../options.js';
import type { BoundSocket } from '../master/listeners.js';
import { identity, socketOwner } from './ids.js';
import type { Namespace } from './namespaces.js';

/** Node has these on POSIX only (tsgi runs on Linux); `initgroups` is missing from @types/node. */
const posix = process as NodeJS.Process & Required<Pick<NodeJS.Process, 'setuid' | 'setgid' | 'setgroups' | 'getgroups'>> & {
  initgroups(user: string, extraGroup: number): void;
};

function step<T>(what: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    throw tsgiError('TSGI_ERR_JAIL_FAILED', `${what}: ${(error as Error).message}`, { cause: error });
  }
}

/** Before any socket is bound: what the files created from here on and every child inherit. */
export function beforeBinding(options: Options): void {
  if (options.umask !== undefined) step(`--umask ${options.umask}`, () => process.umask(parseInt(options.umask!, 8)));
  for (const pair of options.env) {
    const at = pair.indexOf('=');
    process.env[pair.slice(0, at)] = pair.slice(at + 1);
  }
}

/** `--chmod-socket`, `--chown-socket`: on every unix socket file, while the master may still. */
export function setSocketModes(options: Options, sockets: readonly BoundSocket[]): void {
  const mode = options['chmod-socket'];
  const owner = options['chown-socket'] === undefined ? undefined : socketOwner(options['chown-socket']);
  for (const socket of sockets) {
    if (socket.address.kind !== 'unix') continue;
    const path = socket.address.path;
    if (mode !== undefined) step(`--chmod-socket ${mode} ${path}`, () => chmodSync(path, parseInt(mode, 8)));
    if (owner !== undefined) step(`--chown-socket ${options['chown-socket']} ${path}`, () => chownSync(path, owner.uid, owner.gid));
  }
}

/** Whether any step changes who the instance is or what it sees. */
export function jailed(options: Options): boolean {
  return options.uid !== undefined || options.gid !== undefined || options.chroot !== undefined;
}

/**
 * unshare, chroot, then the ids. The master drops too, as uWSGI's does: it runs no app code,
 * but whatever it spawns later (respawned workers, daemons) must never start as root.
 */
export function enterJail(options: Options): void {
  const who = identity(options.uid, options.gid);
  const done: string[] = [];
  if (options.unshare !== undefined) {
    const names = options.unshare.split(',') as Namespace[];
    step(`--unshare ${options.unshare}`, () => native.unshare(names));
    done.push(`namespaces ${options.unshare}`);
  }
  if (options.chroot !== undefined) {
    step(`--chroot ${options.chroot}`, () => native.chroot(options.chroot!));
    done.push(`chroot ${options.chroot}`);
  }
  if (who.gid !== undefined) {
    step(`setgid(${who.gid})`, () => posix.setgid(who.gid!));
    // Root's supplementary groups (0, and whatever else) must not survive the drop.
    if (who.userName !== undefined && !options['no-initgroups']) step(`initgroups(${who.userName})`, () => posix.initgroups(who.userName!, who.gid!));
    else step('setgroups([])', () => posix.setgroups([]));
    done.push(`gid ${who.gid}, groups ${posix.getgroups().join(',') || 'none'}`);
  }
  if (who.uid !== undefined) {
    step(`setuid(${who.uid})`, () => posix.setuid(who.uid!));
    done.push(`uid ${who.uid}${who.userName ? ` (${who.userName})` : ''}`);
  }
  if (done.length > 0) log(`jailed: ${done.join(', ')}`);
}

/** The one warning uWSGI gives too: everything, the app included, would run as root. */
export function warnIfRoot(options: Options): void {
  if (process.getuid?.() === 0 && !jailed(options)) {
    log('*** WARNING: running as root without --uid, --gid or --chroot: the workers and the app run as root too ***');
  }
}
