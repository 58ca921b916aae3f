/**
 * A log file (`--logto FILE`, `--logger file:PATH`, `--daemonize FILE`), opened for appending
 * (`--log-truncate`: emptied at start) and written with one write(2) per batch of lines: the
 * master writes, so an fsync-free blocking write costs no worker anything. Reopened on demand
 * (logrotate's `postrotate` sends SIGUSR1), renamed to a backup past `--log-maxsize`.
 */
import { closeSync, fstatSync, openSync, renameSync, writeSync } from 'node:fs';
import { tsgiError } from '../../errors.js';
import { Target } from './target.js';

export class FileTarget extends Target {
  #fd: number;

  constructor(readonly path: string, truncate = false) {
    super(`file ${path}`);
    this.#fd = FileTarget.#open(path, truncate ? 'w' : 'a');
  }

  static #open(path: string, flags: 'a' | 'w'): number {
    try {
      return openSync(path, flags, 0o640);
    } catch (error) {
      throw tsgiError('TSGI_ERR_LOG_OPEN', `cannot open the log file ${path}: ${(error as Error).message}`);
    }
  }

  protected deliver(data: string | Buffer): void {
    const buffer = typeof data === 'string' ? Buffer.from(data) : data;
    // A short write (a full disk filling up mid-batch) leaves the rest to retry once, then to the error path.
    for (let offset = 0; offset < buffer.length;) offset += writeSync(this.#fd, buffer, offset);
  }

  override reopen(): void {
    const fd = FileTarget.#open(this.path, 'a');
    closeSync(this.#fd);
    this.#fd = fd;
  }

  override rotateIfOver(maxBytes: number, backupName?: string): boolean {
    if (fstatSync(this.#fd).size <= maxBytes) return false;
    renameSync(this.path, backupName ?? `${this.path}.${Math.floor(Date.now() / 1000)}`);
    this.reopen();
    return true;
  }

  override close(): void {
    closeSync(this.#fd);
  }
}

/** stderr (`--logger stdio`, and every line when nothing else is configured). */
export class StderrTarget extends Target {
  constructor() {
    super('stderr');
  }

  protected deliver(data: string | Buffer): void {
    const buffer = typeof data === 'string' ? Buffer.from(data) : data;
    for (let offset = 0; offset < buffer.length;) offset += writeSync(2, buffer, offset);
  }
}
