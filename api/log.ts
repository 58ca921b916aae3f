/**
 * `uwsgi.log()`: a line in the instance's log as tsgi's own lines are written (dated, under the
 * process's tag, to every log target), as uWSGI's `uwsgi.log()` writes through `uwsgi_log`.
 * Unlike `console.log`, it works the same in a worker under the master and in a single process.
 */
import { log } from '../runtime/logger.js';

export const logApi = {
  /**
   * Logs `message` as one line (line breaks become spaces, so the line stays one event).
   * @example
   * uwsgi.log(`cache warmed: ${count} keys`);
   */
  log(message: unknown): void {
    log(String(message).replace(/\r?\n/g, ' '));
  },
};
