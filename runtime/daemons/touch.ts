/**
 * A daemon's `touch=` files (attach-daemon2): their mtimes are read when the daemon starts and
 * compared when the master asks, as uWSGI compares --touch-reload files each cycle. A file that
 * appears or disappears after the start counts as touched too.
 */
import { statSync } from 'node:fs';

export class TouchWatch {
  readonly #mtimes: Map<string, number>;

  constructor(files: readonly string[]) {
    this.#mtimes = new Map(files.map((file) => [file, mtimeOf(file)]));
  }

  /** The first file changed since the last call, or undefined. */
  touched(): string | undefined {
    let changed: string | undefined;
    for (const [file, before] of this.#mtimes) {
      const now = mtimeOf(file);
      if (now === before) continue;
      this.#mtimes.set(file, now);
      changed ??= file;
    }
    return changed;
  }
}

function mtimeOf(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0; // missing: its appearance is a change
  }
}
