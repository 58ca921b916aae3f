/** `--pidfile`: the master's pid, written at start (removed at exit by --vacuum: runtime/jail/vacuum.ts). */
import { writeFileSync } from 'node:fs';

export function writePidfile(path: string): void {
  writeFileSync(path, `${process.pid}\n`);
}

