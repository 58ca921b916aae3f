/** A process's memory as uWSGI reports it: RSS and VSZ in bytes, from /proc/PID/statm. */
import { readFileSync } from 'node:fs';

const PAGE = 4096;

/** [rss, vsz] in bytes of `pid` (default: this process), or zeros if it is gone. */
export function processMemory(pid: number | 'self' = 'self'): [rss: number, vsz: number] {
  try {
    const [size, resident] = readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ').map(Number);
    return [(resident ?? 0) * PAGE, (size ?? 0) * PAGE];
  } catch {
    return [0, 0];
  }
}
