/**
 * `--touch-reload`, `--touch-chain-reload`, `--touch-workers-reload` (uWSGI's touch files): each
 * master cycle compares every file's mtime with the last one seen; a change, or the file
 * appearing or disappearing, reloads the instance that way. The lists are read from the host
 * every cycle, so a re-read config that names other files watches those from then on (a file
 * seen for the first time only sets its baseline).
 */
import { statSync } from 'node:fs';
import { log } from '../logger.js';
import type { MasterHost, ReloadKind, Subsystem } from './subsystem.js';

const WATCHES = [
  { option: 'touch-reload', kind: 'graceful' },
  { option: 'touch-chain-reload', kind: 'chain' },
  { option: 'touch-workers-reload', kind: 'workers' },
] as const satisfies ReadonlyArray<{ option: string; kind: ReloadKind }>;

/** An mtime, or -1 for a file that is not there. */
export function mtimeOf(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

export class Touch implements Subsystem {
  readonly name = 'touch';
  #host!: MasterHost;
  readonly #seen = new Map<string, number>();

  start(host: MasterHost): void {
    this.#host = host;
    this.cycle();
  }

  cycle(): void {
    for (const { option, kind } of WATCHES) {
      for (const path of this.#host.options[option]) {
        const mtime = mtimeOf(path);
        const before = this.#seen.get(`${option}\0${path}`);
        this.#seen.set(`${option}\0${path}`, mtime);
        if (before === undefined || before === mtime) continue;
        log(`${path} ${mtime < 0 ? 'removed' : before < 0 ? 'appeared' : 'touched'} (--${option}): ${kind} reload`);
        this.#host.reload(kind);
      }
    }
  }
}
