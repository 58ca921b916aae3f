/**
 * One line per event (as uWSGI logs). Every line goes to the process's sink: by default
 * stderr, batched and written once per event loop turn (a busy worker logging every request
 * does one write(2) per turn, not per request); the logging room (runtime/logging/) swaps in
 * its router (the master's targets) or, in a child, the pipes to the master's log collector.
 */

/** What a line is: tsgi's own event, output relayed for another program, or a request line. */
export type LineKind = 'lifecycle' | 'output' | 'request';

/** Where a process's lines go. `line` gets one line without its newline; `flush` writes what is pending now. */
export interface LogSink {
  line(kind: LineKind, text: string): void;
  flush(): void;
}

let prefix = '';

/** The sink of a process nobody configured: stderr, one write per turn. */
class StderrSink implements LogSink {
  #buffered = '';
  #scheduled = false;
  readonly #flush = () => this.flush();

  line(_kind: LineKind, text: string): void {
    this.#buffered += `${text}\n`;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#buffered === '') return;
    const text = this.#buffered;
    this.#buffered = '';
    try {
      process.stderr.write(text);
    } catch {
      // stderr closed: nothing left to tell anyone.
    }
  }
}

let sink: LogSink = new StderrSink();

/** Sends this process's lines to `next` from now on (what is pending goes out first). */
export function setLogSink(next: LogSink): void {
  sink.flush();
  sink = next;
}

/** Sets the tag every line of this process starts with, e.g. `[worker 2]`. */
export function setLogPrefix(tag: string): void {
  prefix = tag ? `${tag} ` : '';
}

export function log(message: string): void {
  sink.line('lifecycle', prefix + message);
}

/**
 * A line on behalf of something that is not this process (an attached daemon's output), under
 * its own tag (`[daemon 1] `) instead of this process's.
 */
export function logAs(tag: string, message: string): void {
  sink.line('output', tag + message);
}

/** A request log line (already formatted): `--req-logger` targets take these apart from the rest. */
export function logRequest(line: string): void {
  sink.line('request', line);
}

/** Logs an error as one line: the stack's lines joined with " | ". */
export function logError(message: string, error: unknown): void {
  log(`${message}: ${oneLine(error)}`);
}

export function oneLine(error: unknown): string {
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  return text.replace(/\n\s*/g, ' | ');
}

/** Writes what is buffered now (also called right before the process exits). */
export function flushLog(): void {
  sink.flush();
}

process.on('exit', flushLog);
