/**
 * A child's end of the log master (`--log-master`, on by default): the worker's (spooler's)
 * own lines go to the master over two pipes, one for lifecycle lines and one for request lines,
 * so the master can pass request bytes through untouched. The pipes are non-blocking and
 * written synchronously once per turn: a master that does not keep up never blocks a worker
 * (what does not fit waits, bounded, and past the bound whole lines are dropped and counted),
 * and lines written right before `process.exit` still leave. Without the log master
 * (`--log-master=false`) a child opens the targets itself, as each uWSGI process writes its
 * own log without one.
 */
import { writeSync } from 'node:fs';
import { setLogSink, type LineKind, type LogSink } from '../logger.js';
import { native } from '../native.js';
import type { Options } from '../options.js';
import { setupLogging } from './setup.js';
import { lineCount } from './targets/target.js';

/** A worker's or spooler's logging, set up first thing in the child (TSGI_LOG_FDS comes from the master: collector.ts). */
export function installChildLogging(options: Options, tag: string): void {
  const fds = process.env.TSGI_LOG_FDS?.split(',').map(Number);
  delete process.env.TSGI_LOG_FDS; // the app's own child processes are not tsgi children
  if (fds && fds.length === 2 && fds.every(Number.isInteger)) return setLogSink(new PipeSink(fds[0]!, fds[1]!, tag));
  setupLogging(options, true);
}

/** Bytes a pipe may hold back while the master is slow, before new lines are dropped. */
const MAX_PENDING = 1 << 20;
const RETRY_MS = 10;

class PipeWriter {
  #pending: Buffer | null = null;
  #dropped = 0;
  #retry: NodeJS.Timeout | null = null;
  readonly #retryNow = () => {
    this.#retry = null;
    this.write('');
  };

  constructor(private readonly fd: number, private readonly droppedLine: (count: number) => string) {
    native.setNonBlocking(fd, true);
  }

  /** Complete lines (each ending in a newline); '' just retries what waits. */
  write(text: string): void {
    if (text !== '') {
      if (this.#pending !== null && this.#pending.length >= MAX_PENDING) this.#dropped += lineCount(text);
      else this.#pending = this.#pending === null ? Buffer.from(text) : Buffer.concat([this.#pending, Buffer.from(text)]);
    }
    this.#drain();
  }

  #drain(): void {
    const data = this.#pending;
    if (data === null) return;
    let written = 0;
    try {
      while (written < data.length) written += writeSync(this.fd, data, written);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') {
        this.#pending = null; // EPIPE: the master is gone, nobody reads these any more
        return;
      }
    }
    if (written < data.length) {
      // Whatever was cut mid-line goes first next time, so the master never sees half a line.
      this.#pending = data.subarray(written);
      this.#retry ??= setTimeout(this.#retryNow, RETRY_MS);
      return;
    }
    this.#pending = null;
    if (this.#dropped > 0) {
      const report = this.droppedLine(this.#dropped);
      this.#dropped = 0;
      if (report !== '') this.write(report);
    }
  }
}

/**
 * Request lines leave at most this late, or once this many bytes are waiting: under load a
 * worker then writes (and wakes the master) a few hundred times a second, not once per turn.
 */
const REQUEST_FLUSH_MS = 20;
const REQUEST_FLUSH_BYTES = 32 * 1024;

export class PipeSink implements LogSink {
  readonly #lifecycle: PipeWriter;
  readonly #requests: PipeWriter;
  #lifecycleBatch = '';
  #requestBatch = '';
  #scheduled = false;
  #requestTimer: NodeJS.Timeout | null = null;
  readonly #flush = () => this.flush();
  readonly #flushRequests = () => {
    this.#requestTimer = null;
    this.#writeRequests();
  };

  constructor(lifecycleFd: number, requestFd: number, tag: string) {
    const dropped = (count: number) => `${tag} ${count} log line(s) dropped: the log master did not keep up\n`;
    this.#lifecycle = new PipeWriter(lifecycleFd, dropped);
    // Request lines lost are counted on the lifecycle pipe, where a plain line can say so.
    this.#requests = new PipeWriter(requestFd, (count) => {
      this.#lifecycleBatch += dropped(count);
      this.#schedule();
      return '';
    });
  }

  line(kind: LineKind, text: string): void {
    if (kind !== 'request') {
      this.#lifecycleBatch += `${text}\n`;
      return this.#schedule();
    }
    this.#requestBatch += `${text}\n`;
    if (this.#requestBatch.length >= REQUEST_FLUSH_BYTES) this.#writeRequests();
    else this.#requestTimer ??= setTimeout(this.#flushRequests, REQUEST_FLUSH_MS).unref();
  }

  #schedule(): void {
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  #writeRequests(): void {
    if (this.#requestBatch === '') return;
    const text = this.#requestBatch;
    this.#requestBatch = '';
    this.#requests.write(text);
  }

  /** Lifecycle lines now; request lines too (what exit and boot errors call). */
  flush(): void {
    this.#scheduled = false;
    this.#writeRequests();
    if (this.#lifecycleBatch !== '') {
      const text = this.#lifecycleBatch;
      this.#lifecycleBatch = '';
      this.#lifecycle.write(text);
    }
  }
}
