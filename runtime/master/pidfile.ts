/** `--pidfile`: the master's pid, written at start and removed at shutdown. */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';

export function writePidfile(path: string): void {
  writeFileSync(path, `${process.pid}\n`);
}

/** Removes the pidfile only if it is still ours (a newer instance may have replaced it). */
export function removePidfile(path: string): void {
  try {
    if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
  } catch {
    // already gone
  }
}
