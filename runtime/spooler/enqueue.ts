/**
 * Enqueueing a task (`uwsgi.spool(dict)`, and modifier1 17 packets): the file is written under a
 * temporary name, fsynced, then renamed to its task name in one step, so a spooler never sees
 * half a task, whatever crashes when. Any failure (full disk, read-only directory) throws.
 */
import { closeSync, fsyncSync, futimesSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tsgiError } from '../errors.js';
import type { MasterRequest } from '../ipc.js';
import type { Options } from '../options.js';
import { packetHeader } from '../protocols/uwsgi/packet.js';
import { decodePairs, encodeSpoolFile, SPOOL_MODIFIER1, spoolFileName } from './spool-file.js';

/** Prefix of a task being written; spoolers skip it (uWSGI too: it is not `uwsgi_spoolfile_on_*`). */
export const TEMP_PREFIX = '.tsgi-spooling-';

/** The directory a task went to (its spooler's, not the priority's), and its file's full path. */
export interface SpooledTask {
  dir: string;
  path: string;
}

/** Every directory `spool()` may write to: the `--spooler` ones, then `--spooler-external`. */
export function spoolerDirs(options: Pick<Options, 'spooler' | 'spooler-external'>): string[] {
  return [...options.spooler, ...options['spooler-external']];
}

/**
 * Writes one task into the first of `spoolers` (or the one its `spooler` key names) and returns
 * where. `spoolers` are absolute directories (see {@link spoolerDirs}).
 */
export function spoolTask(vars: Readonly<Record<string, string>>, body: Buffer | null, spoolers: readonly string[]): SpooledTask {
  return storeTask(vars, encodeSpoolFile(vars, body), spoolers);
}

/**
 * Network enqueue (modifier1 17): the packet's dict bytes become the task byte for byte, as
 * uWSGI stores them (duplicate keys, key order and non-UTF-8 bytes included).
 */
export function spoolPacket(dict: Buffer, spoolers: readonly string[]): SpooledTask {
  return storeTask(decodePairs(dict, 0, dict.length), Buffer.concat([packetHeader(SPOOL_MODIFIER1, dict.length, 0), dict]), spoolers);
}

function storeTask(vars: Readonly<Record<string, string>>, bytes: Buffer, spoolers: readonly string[]): SpooledTask {
  if (spoolers.length === 0) throw tsgiError('TSGI_ERR_SPOOLER_NONE', 'uwsgi.spool(): this instance has no spooler: start tsgi with --spooler DIR (or --spooler-external DIR)');
  const dir = targetDir(vars.spooler, spoolers);
  const priority = vars.priority;
  if (priority !== undefined && !/^\d+$/.test(priority)) {
    throw tsgiError('TSGI_ERR_SPOOL_ARGS', `uwsgi.spool(): priority must be a non-negative integer (the name of a subdirectory), got ${JSON.stringify(priority)}`);
  }
  const at = vars.at === undefined ? 0 : Math.trunc(Number(vars.at));
  if (Number.isNaN(at)) throw tsgiError('TSGI_ERR_SPOOL_ARGS', `uwsgi.spool(): at must be a unix time in seconds, got ${JSON.stringify(vars.at)}`);
  return { dir, path: writeAtomically(priority === undefined ? dir : join(dir, priority), spoolFileName(), bytes, at) };
}

/** Directories whose spoolers get one wake-up for all the tasks queued in this turn. */
const toWake = new Set<string>();

/** Tells the master (once per turn and directory) that `dir` has a new task for its spoolers. */
export function wakeSpoolers(toMaster: (request: MasterRequest) => void, dir: string): void {
  if (toWake.size === 0) {
    queueMicrotask(() => {
      for (const queued of toWake) toMaster({ act: 'spooled', dir: queued });
      toWake.clear();
    });
  }
  toWake.add(dir);
}

function targetDir(named: string | undefined, spoolers: readonly string[]): string {
  if (named === undefined) return spoolers[0]!;
  const wanted = resolve(named);
  if (spoolers.includes(wanted)) return wanted;
  throw tsgiError('TSGI_ERR_SPOOL_ARGS', `uwsgi.spool(): spooler ${JSON.stringify(named)} is not one of this instance's spoolers (${spoolers.join(', ')})`);
}

function writeAtomically(dir: string, name: string, bytes: Buffer, at: number): string {
  const path = join(dir, name);
  const temp = join(dir, TEMP_PREFIX + name);
  let fd = -1;
  try {
    try {
      fd = openSync(temp, 'wx', 0o600);
    } catch (error) {
      // A priority's subdirectory is made on its first task.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      mkdirSync(dir, { recursive: true });
      fd = openSync(temp, 'wx', 0o600);
    }
    for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written);
    // `at`: the spooler skips files whose mtime is in the future, as uWSGI does.
    if (at > 0) futimesSync(fd, at, at);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(temp, path);
    return path;
  } catch (error) {
    if (fd >= 0) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      // never created, or already gone
    }
    const { code, message } = error as NodeJS.ErrnoException;
    throw tsgiError('TSGI_ERR_SPOOL_WRITE', `uwsgi.spool(): cannot write the task into ${dir}: ${code ?? message} — the task was NOT queued (check free space and permissions of the spooler directory)`);
  }
}
