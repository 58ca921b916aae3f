/**
 * The Emperor's monitors (spec §1.1): what `--emperor X` watches, and one scan of it. `dir://`
 * and `glob://` say which; without a scheme an existing directory is a directory monitor and
 * anything else a glob. A scan yields the valid vassal files: a known config extension, a name
 * under 255 bytes, a regular file (stat follows symlinks), with the mtime and owner the
 * lifecycle compares.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { tsgiError } from '../errors.js';
import { globPaths } from './glob.js';

export interface Monitor {
  readonly kind: 'dir' | 'glob';
  /** The directory (absolute) or the glob pattern. */
  readonly target: string;
  /** As given on the command line, for logs and stats. */
  readonly given: string;
}

/** A valid vassal file as a scan found it. */
export interface VassalFile {
  readonly path: string;
  /** How logs and stats name it, as uWSGI: the file name for a directory monitor, the path for a glob. */
  readonly name: string;
  readonly mtimeMs: number;
  readonly uid: number;
  readonly gid: number;
  /** Where the vassal runs: its directory for a directory monitor (uWSGI chdirs there), the Emperor's own for a glob. */
  readonly cwd: string;
}

/** uWSGI's vassal extensions, plus sqlite databases (a tsgi config format). */
export const VASSAL_EXTENSIONS: ReadonlySet<string> = new Set(['.xml', '.ini', '.yml', '.yaml', '.js', '.json', '.db']);

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Parses an `--emperor` value; throws for a scheme tsgi has no monitor for (amqp://, zmq://, …). */
export function monitorOf(given: string): Monitor {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(given);
  if (scheme && scheme[1] !== 'dir' && scheme[1] !== 'glob') {
    throw tsgiError('TSGI_ERR_EMPEROR_MONITOR', `no Emperor monitor for ${scheme[1]}:// (tsgi watches dir:// and glob://)`);
  }
  const target = scheme ? given.slice(scheme[0].length) : given;
  if (target === '') throw tsgiError('TSGI_ERR_EMPEROR_MONITOR', `--emperor ${given} names no directory or glob`);
  const kind = scheme ? (scheme[1] as 'dir' | 'glob') : isDirectory(target) ? 'dir' : 'glob';
  return { kind, target: kind === 'dir' ? resolve(target) : target, given };
}

function vassalFile(path: string, cwd: string, name: string): VassalFile | undefined {
  const file = basename(path);
  if (Buffer.byteLength(file) >= 255 || !VASSAL_EXTENSIONS.has(extname(file).toLowerCase())) return undefined;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) return undefined;
    return { path, name, mtimeMs: stat.mtimeMs, uid: stat.uid, gid: stat.gid, cwd };
  } catch {
    return undefined; // removed between the listing and the stat
  }
}

/** One scan: the valid vassal files `monitor` sees now. A missing directory sees none. */
export function scan(monitor: Monitor): VassalFile[] {
  if (monitor.kind === 'glob') {
    const cwd = process.cwd();
    return globPaths(monitor.target).flatMap((path) => vassalFile(path, cwd, path) ?? []);
  }
  let names: string[];
  try {
    names = readdirSync(monitor.target).sort();
  } catch {
    return [];
  }
  return names.flatMap((name) => vassalFile(join(monitor.target, name), monitor.target, name) ?? []);
}
