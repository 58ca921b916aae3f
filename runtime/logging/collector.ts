/**
 * The log master's collector (uWSGI's `--log-master`, on by default here): every worker and
 * spooler writes its stdout and stderr into pipes the master reads, plus two pipes for tsgi's
 * own lines (lifecycle and request, see child-pipe.ts). Each pipe is assembled into whole lines
 * before anything is written, so lines from different children never interleave mid-line, and
 * the app's own output is tagged with its source: `[worker 2 pid 4242] the app's line`.
 */
import type { ChildProcess, StdioPipe } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { Options } from '../options.js';
import { logRouter } from './setup.js';
import type { LogRouter } from './router.js';

/** A line longer than this is passed on in pieces rather than held without bound. */
const MAX_LINE = 64 * 1024;
const NEWLINE = 10;

export interface ChildLogging {
  /** The child's fds 1 and 2. */
  readonly stdout: StdioPipe | 'inherit';
  readonly stderr: StdioPipe | 'inherit';
  /** Appended to the child's stdio after every other fd. */
  readonly extra: StdioPipe[];
  readonly env: Record<string, string>;
  /** Starts reading a spawned child's pipes; `source` names it (`worker 2`). */
  collect(child: ChildProcess, source: string): void;
}

const INHERIT: ChildLogging = { stdout: 'inherit', stderr: 'inherit', extra: [], env: {}, collect: () => {} };

/** How to spawn a child whose logs the master collects; `firstExtraFd` is the child's fd number of the first extra pipe. */
export function childLogging(options: Options, firstExtraFd: number): ChildLogging {
  const router = logRouter();
  if (!options['log-master'] || router === undefined) return INHERIT;
  return {
    stdout: 'pipe',
    stderr: 'pipe',
    extra: ['pipe', 'pipe'],
    env: { TSGI_LOG_FDS: `${firstExtraFd},${firstExtraFd + 1}` },
    collect: (child, source) => collect(router, child, source, firstExtraFd),
  };
}

function collect(router: LogRouter, child: ChildProcess, source: string, firstExtraFd: number): void {
  const tag = `[${source} pid ${child.pid}] `;
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) readLines(stream, (line) => router.line('output', tag + line));
  }
  const lifecycle = child.stdio[firstExtraFd] as Readable | null;
  const requests = child.stdio[firstExtraFd + 1] as Readable | null;
  if (lifecycle) readLines(lifecycle, (line) => router.line('lifecycle', line));
  if (requests) readRequestLines(requests, router);
}

/** Calls `each` with every complete line (no newline, no CR); a partial line waits for its end or for the pipe to close. */
function readLines(stream: Readable, each: (line: string) => void): void {
  let partial: Buffer | null = null;
  stream.on('data', (chunk: Buffer) => {
    let data = partial === null ? chunk : Buffer.concat([partial, chunk]);
    partial = null;
    let start = 0;
    for (let end = data.indexOf(NEWLINE); end >= 0; end = data.indexOf(NEWLINE, start)) {
      each(lineText(data, start, end));
      start = end + 1;
    }
    if (start < data.length) {
      data = data.subarray(start);
      if (data.length > MAX_LINE) each(lineText(data, 0, data.length));
      else partial = data;
    }
  });
  stream.on('end', () => partial !== null && each(lineText(partial, 0, partial.length)));
  stream.on('error', () => {}); // a child killed mid-write: what it had written was read already
}

function lineText(data: Buffer, start: number, end: number): string {
  if (end > start && data[end - 1] === 13) end--;
  return data.toString('utf8', start, end);
}

/** Request lines pass on as bytes, cut at the last newline of each chunk (the rest waits for the next one). */
function readRequestLines(stream: Readable, router: LogRouter): void {
  let partial: Buffer | null = null;
  stream.on('data', (chunk: Buffer) => {
    const data = partial === null ? chunk : Buffer.concat([partial, chunk]);
    const last = data.lastIndexOf(NEWLINE);
    if (last < 0) {
      partial = data;
      return;
    }
    partial = last + 1 < data.length ? Buffer.from(data.subarray(last + 1)) : null;
    router.requestBytes(last + 1 === data.length ? data : data.subarray(0, last + 1));
  });
  stream.on('end', () => partial !== null && router.requestBytes(Buffer.concat([partial, Buffer.from('\n')])));
  stream.on('error', () => {});
}
