/**
 * App errors, logged without drowning the log: an app that throws on every request once wrote
 * 265 MB of identical stacks in 30 s. The first occurrence of a stack is logged in full; further
 * occurrences only bump a counter, and once a second each counted stack gets one line saying how
 * many more times it happened. A stack quiet for a whole second is forgotten, so its next
 * occurrence is logged in full again (its earlier copy may be far up the log by then).
 */
import { flushLog, log, oneLine } from '../logger.js';

interface Repeat {
  /** The message of the first occurrence, e.g. `app error on GET /`. */
  message: string;
  /** Occurrences since the last line about this stack. */
  count: number;
}

/** Distinct stacks tracked at once; past this, new stacks are logged in full, untracked. */
const MAX_TRACKED = 256;
const WINDOW_MS = 1000;

/** Keyed by the stack string: hashing it is the whole per-request cost of a repeat. */
const repeats = new Map<string, Repeat>();
let timer: NodeJS.Timeout | null = null;

/** Logs `message: <stack>` once, then at most one repeat-count line per second per stack. */
export function logAppError(message: string, error: unknown): void {
  const stack = oneLine(error);
  const seen = repeats.get(stack);
  if (seen !== undefined) {
    seen.count++;
    return;
  }
  log(`${message}: ${stack}`);
  if (repeats.size >= MAX_TRACKED) return;
  repeats.set(stack, { message, count: 0 });
  // unref: a pending count must not keep a stopping worker alive (the exit hook reports it).
  timer ??= setTimeout(reportRepeats, WINDOW_MS).unref();
}

/** Once a second: one line per stack that repeated, and forget stacks that did not. */
function reportRepeats(): void {
  timer = null;
  for (const [stack, seen] of repeats) {
    if (seen.count === 0) {
      repeats.delete(stack);
      continue;
    }
    log(repeatLine(seen));
    seen.count = 0;
  }
  if (repeats.size > 0) timer = setTimeout(reportRepeats, WINDOW_MS).unref();
}

function repeatLine(seen: Repeat): string {
  const times = seen.count === 1 ? '1 more time' : `${seen.count} more times`;
  return `${seen.message} (the same error ${times} in the last 1 s; stack above)`;
}

// A worker that exits mid-window still reports what it counted.
process.on('exit', () => {
  for (const seen of repeats.values()) if (seen.count > 0) log(repeatLine(seen));
  repeats.clear();
  flushLog();
});
