/** The apps this worker holds (many apps in one instance: `--mount`, `--vhost`, UWSGI_SCRIPT). */
import { appRows } from '../runtime/apps/stats.js';
import type { AppStats } from '../runtime/apps/app-board.js';
import { workerContext } from '../runtime/context.js';

export type { AppStats } from '../runtime/apps/app-board.js';

export const appsApi = {
  /**
   * This worker's apps, as the stats server lists them under `workers[].apps`: id, modifier1,
   * mountpoint, startup_time (s), requests, exceptions, chdir.
   * @example
   * for (const app of uwsgi.apps()) console.log(app.mountpoint, app.requests);
   */
  apps(): AppStats[] {
    const context = workerContext('apps');
    return appRows(context.shared, context.shared.scoreboard.read(context.workerId));
  },
};
