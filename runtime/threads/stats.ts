/**
 * How threads show in `uwsgi.workers()` and the stats server. In uWSGI a threaded worker's
 * cores are its threads (core id = thread id), so `--stats` lists one core per thread in
 * uWSGI's core shape (id, requests, …, in_request), plus `thread` and `cores` (its --async
 * cores: each thread has its own); `workers()` gets a `threads` list of the thread board's rows.
 */
import type { WorkerStats } from '../shared/scoreboard.js';
import type { SharedState } from '../shared/state.js';
import type { ThreadStats } from './board.js';

export type WorkerWithThreads = WorkerStats & { threads?: ThreadStats[] };

/** `uwsgi.workers()` rows, each with its threads when the instance runs --threads. */
export function workersWithThreads(shared: SharedState): WorkerWithThreads[] {
  const rows = shared.scoreboard.readAll();
  const board = shared.threads;
  if (board === null) return rows;
  return rows.map((row) => ({ ...row, threads: board.read(row.id) }));
}

/** The `cores` of worker `id` in the stats JSON: one per thread with --threads, else none listed. */
export function threadCores(shared: SharedState, id: number, async: number): Array<Record<string, unknown>> {
  const board = shared.threads;
  if (board === null) return [];
  return board.read(id).map((thread) => ({
    id: thread.id, requests: thread.requests, static_requests: 0, routed_requests: 0, offloaded_requests: 0,
    write_errors: 0, read_errors: 0, in_request: thread.busy_cores > 0 ? 1 : 0, vars: [], req_info: {},
    thread: thread.id, cores: async, busy_cores: thread.busy_cores, exceptions: thread.exceptions,
    harakiri_count: thread.harakiri_count, respawn_count: thread.respawn_count, status: thread.status,
  }));
}
