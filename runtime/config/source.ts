/**
 * Where config bytes come from, as uWSGI's `uwsgi_open_and_read`: a file (or FIFO), `-` for
 * standard input, `exec://command` for a command's output and `fd://N` for an inherited fd.
 * Also splits the `:suffix` that selects an ini section, an xml id or a sqlite query.
 *
 * Everything here is synchronous on purpose: config is read once at start-up, before anything
 * else runs, and a sync read keeps `parseArgv()` a plain function.
 */
import { execSync } from 'node:child_process';
import { existsSync, readFileSync, readSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { tsgiError } from '../errors.js';

export interface ConfigSource {
  bytes: Buffer;
  /** How messages name it: a path relative to the cwd (absolute when outside), `stdin`, `exec://…`. */
  display: string;
  /** Absolute path of a file; undefined for stdin, commands and fds. */
  path?: string;
  /** The directory relative includes inside it resolve against. */
  dir: string;
  /** Identity for include-loop detection (the real path of a file). */
  key: string;
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

export function isPipe(spec: string): boolean {
  return spec === '-' || SCHEME.test(spec);
}

/**
 * Splits `app.ini:section`, `app.xml:id` or `app.db:QUERY`. A spec that names an existing file
 * as a whole is never split. Sections and ids are after the last `:` that follows the last `/`
 * (uWSGI's rule, so `exec://cat /x/app.ini:dev` works) and are one word, so a command such as
 * `exec://printf 'uwsgi:\n …'` is not cut; a query starts at the first `:` (so it may itself
 * contain colons).
 */
export function splitSuffix(spec: string, baseDir: string, query = false): { spec: string; suffix?: string } {
  if (spec === '-' || (!isPipe(spec) && existsSync(resolve(baseDir, spec)))) return { spec };
  const scheme = SCHEME.exec(spec)?.[0].length ?? 0;
  const colon = query ? spec.indexOf(':', scheme) : spec.indexOf(':', Math.max(scheme, spec.lastIndexOf('/') + 1));
  if (colon < 0) return { spec };
  const suffix = spec.slice(colon + 1);
  if (!query && !/^[\w.@-]*$/.test(suffix)) return { spec };
  return suffix === '' ? { spec: spec.slice(0, colon) } : { spec: spec.slice(0, colon), suffix };
}

/** What messages call a file: relative to the working directory when below it. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}

/**
 * Reads `spec` whole. `from` names where it was asked for (for an include: "app.ini:3"), so
 * a missing file says who wanted it.
 */
export function readSource(spec: string, baseDir: string, from?: string): ConfigSource {
  const unreadable = (why: string) =>
    tsgiError('TSGI_ERR_CONFIG_READ', `cannot read config ${spec}${from ? ` (included from ${from})` : ''}: ${why}`);
  if (spec === '-') return { bytes: readAll(0), display: 'stdin', dir: baseDir, key: 'stdin' };
  if (spec.startsWith('exec://')) return { bytes: runCommand(spec.slice(7), unreadable), display: spec, dir: baseDir, key: spec };
  if (spec.startsWith('fd://')) {
    const fd = Number(spec.slice(5));
    if (!Number.isInteger(fd) || fd < 0) throw unreadable('fd:// needs a file descriptor number');
    try {
      return { bytes: readAll(fd), display: spec, dir: baseDir, key: spec };
    } catch (error) {
      throw unreadable((error as Error).message);
    }
  }
  if (SCHEME.test(spec)) throw unreadable('unsupported scheme (tsgi reads files, -, exec:// and fd://)');
  const path = resolve(baseDir, spec);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw unreadable(`${why} (${path})`);
  }
  return { bytes, display: displayPath(path), path, dir: dirname(path), key: realpathSync(path) };
}

/** The command's standard output; a command that fails is an error, not an empty config. */
function runCommand(command: string, unreadable: (why: string) => Error): Buffer {
  try {
    return execSync(command, { stdio: ['inherit', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  } catch (error) {
    const status = (error as { status?: number | null }).status;
    throw unreadable(status != null ? `the command exited with code ${status}` : (error as Error).message);
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Reads an fd to EOF; a non-blocking pipe (EAGAIN) is waited for rather than taken as empty. */
function readAll(fd: number): Buffer {
  const chunks: Buffer[] = [];
  const chunk = Buffer.alloc(65536);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, chunk, 0, chunk.length, null);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(pause, 0, 0, 5);
        continue;
      }
      if (code === 'EOF') break;
      throw error;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(chunk.subarray(0, n)));
  }
  return Buffer.concat(chunks);
}
