/**
 * A worker's `apps` list for the stats server and `uwsgi.apps()`. A single-app worker has no
 * board: its one app, mounted at "", served every request of this process (delta_requests)
 * and raised every exception, so the scoreboard already holds its counters.
 */
import type { SharedState } from '../shared/state.js';
import type { WorkerStats } from '../shared/scoreboard.js';
import type { AppStats } from './app-board.js';

export function appRows(shared: SharedState, worker: WorkerStats): AppStats[] {
  if (shared.apps !== null) return shared.apps.read(worker.id);
  if (worker.pid === 0) return [];
  return [{ id: 0, modifier1: 0, mountpoint: '', startup_time: 0, requests: worker.delta_requests, exceptions: worker.exceptions, chdir: '' }];
}
