/**
 * One line per event, on stderr (as uWSGI logs). Lines are batched and written once per event
 * loop turn: a busy worker logging every request does one write(2) per turn, not per request.
 */

let prefix = '';
let buffered = '';
let flushScheduled = false;

/** Sets the tag every line of this process starts with, e.g. `[worker 2]`. */
export function setLogPrefix(tag: string): void {
  prefix = tag ? `${tag} ` : '';
}

export function log(message: string): void {
  logAs(prefix, message);
}

/**
 * A line on behalf of something that is not this process (an attached daemon's output), under
 * its own tag (`[daemon 1] `) instead of this process's.
 */
export function logAs(tag: string, message: string): void {
  buffered += `${tag}${message}\n`;
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushLog);
  }
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
  flushScheduled = false;
  if (buffered === '') return;
  const text = buffered;
  buffered = '';
  try {
    process.stderr.write(text);
  } catch {
    // stderr closed: nothing left to tell anyone.
  }
}

process.on('exit', flushLog);

