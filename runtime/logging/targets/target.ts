/**
 * A log target: where lines end up (a file, a UDP peer, syslog, stderr). A target that fails
 * (disk full, nobody listening) never throws at its caller and never blocks: the lines are
 * dropped and counted, the failure is said once on stderr, and once the target takes lines
 * again it first gets one line saying how many were lost.
 */

export abstract class Target {
  #dropped = 0;
  #failure: string | null = null;

  constructor(readonly description: string) {}

  /** Delivers complete lines (each ending in a newline); throws (or calls {@link failed}) when it cannot. */
  protected abstract deliver(data: string | Buffer): void;

  /**
   * Writes complete lines, or counts them as dropped. A target back from a failure first gets
   * the count. `deliver` may throw an error carrying `delivered` (the lines that went out before it failed).
   */
  write(data: string | Buffer): void {
    if (this.#dropped > 0) {
      try {
        this.deliver(this.#droppedLine());
      } catch (error) {
        return this.failed(error, lineCount(data));
      }
      this.#dropped = 0;
    }
    try {
      this.deliver(data);
      if (this.#dropped === 0) this.#failure = null;
    } catch (error) {
      this.failed(error, lineCount(data) - ((error as { delivered?: number }).delivered ?? 0));
    }
  }

  /** `lines` were lost because of `error` (an asynchronous target reports its losses here). */
  protected failed(error: unknown, lines: number): void {
    this.#dropped += lines;
    if (this.#failure !== null) return;
    this.#failure = (error as NodeJS.ErrnoException).code ?? (error as Error).message ?? String(error);
    try {
      process.stderr.write(`tsgi: log target ${this.description} failed (${this.#failure}): dropping its lines until it works again\n`);
    } catch {
      // stderr gone as well: the count still tells the target once it is back.
    }
  }

  /** Whether lines are being dropped now. */
  get failing(): boolean {
    return this.#failure !== null;
  }

  #droppedLine(): string {
    return `tsgi: ${this.#dropped} log line(s) dropped while ${this.description} failed (${this.#failure})\n`;
  }

  /** Opens the target again (a file moved away by logrotate); a no-op for the others. */
  reopen(): void {}

  /** Renames a file target past `maxBytes` to its backup and starts a new one; false when nothing was done. */
  rotateIfOver(_maxBytes: number, _backupName?: string): boolean {
    return false;
  }

  close(): void {}
}

export function lineCount(data: string | Buffer): number {
  let count = 0;
  if (typeof data === 'string') {
    for (let i = data.indexOf('\n'); i >= 0; i = data.indexOf('\n', i + 1)) count++;
  } else {
    for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) count++;
  }
  return count;
}

/** Calls `each` with every line of `data` (complete lines, each ending in a newline), without it. */
export function forEachLine(data: string | Buffer, each: (line: string) => void): void {
  const text = typeof data === 'string' ? data : data.toString('utf8');
  let start = 0;
  for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', start)) {
    each(text.slice(start, end));
    start = end + 1;
  }
}
