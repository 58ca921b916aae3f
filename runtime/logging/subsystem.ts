/**
 * The logging duties of the master's loop (uWSGI checks them each master cycle): rotating a
 * log file past `--log-maxsize`, reopening the files when a `--touch-logreopen` file changes
 * or on reload with `--log-reopen`, and telling a waiting `--daemonize2` command that the
 * workers are ready. SIGUSR1 and the master FIFO reopen through setup.ts directly.
 */
import { mtimeOf } from '../master/touch.js';
import type { MasterHost, ReloadKind, Subsystem } from '../master/subsystem.js';
import { daemonReady } from './daemonize.js';
import { reopenLogs, rotateLogs } from './setup.js';

export class Logging implements Subsystem {
  readonly name = 'logging';
  #host!: MasterHost;
  readonly #seen = new Map<string, number>();
  #announcedReady = false;

  start(host: MasterHost): void {
    this.#host = host;
    this.#checkTouched();
  }

  cycle(): void {
    const options = this.#host.options;
    if (options['log-maxsize'] > 0) rotateLogs(options['log-maxsize'], options['log-backupname']);
    this.#checkTouched();
    if (!this.#announcedReady && (this.#host.subsystem('workers')?.children?.allReady() ?? true)) {
      this.#announcedReady = true;
      daemonReady();
    }
  }

  reload(kind: ReloadKind): void {
    if (this.#host.options['log-reopen'] && (kind === 'graceful' || kind === 'brutal')) reopenLogs(`${kind} reload (--log-reopen)`);
  }

  #checkTouched(): void {
    for (const path of this.#host.options['touch-logreopen']) {
      const mtime = mtimeOf(path);
      const before = this.#seen.get(path);
      this.#seen.set(path, mtime);
      if (before !== undefined && before !== mtime) reopenLogs(`${path} touched (--touch-logreopen)`);
    }
  }
}
