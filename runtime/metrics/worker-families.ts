/**
 * The per-worker families, one sample per scoreboard slot labelled `worker="N"` (uWSGI's worker
 * id, as the stats JSON's `id`). Counters count for the slot's lifetime, across respawns, as
 * the scoreboard does, so a respawn never makes a counter go backwards.
 */
import { DURATION_BUCKETS, type Scoreboard, type WorkerStats } from '../shared/scoreboard.js';
import { labelText, type Exposition, type MetricType } from './exposition.js';

interface WorkerFamily {
  name: string;
  type: Exclude<MetricType, 'histogram'>;
  help: string;
  value: (worker: WorkerStats, board: Scoreboard, cores: number) => number;
}

const FAMILIES: readonly WorkerFamily[] = [
  { name: 'tsgi_worker_requests', type: 'counter', help: 'Requests the worker served.', value: (w) => w.requests },
  { name: 'tsgi_worker_exceptions', type: 'counter', help: 'Requests whose app raised an exception.', value: (w) => w.exceptions },
  { name: 'tsgi_worker_harakiri', type: 'counter', help: 'Requests halted and workers killed by harakiri.', value: (w) => w.harakiri_count },
  { name: 'tsgi_worker_respawns', type: 'counter', help: 'Times the worker slot got a new process after its first.', value: (w) => w.respawn_count },
  { name: 'tsgi_worker_signals', type: 'counter', help: 'uWSGI signals the worker handled.', value: (w) => w.signals },
  { name: 'tsgi_worker_transmitted_bytes', type: 'counter', help: 'Response bytes the worker sent.', value: (w) => w.tx },
  { name: 'tsgi_worker_busy_cores', type: 'gauge', help: 'Cores (request slots) of the worker serving a request now.', value: (w, board) => (w.pid === 0 ? 0 : board.busyCores(w.id)) },
  { name: 'tsgi_worker_idle_cores', type: 'gauge', help: 'Cores (request slots) of the worker free for a request now.', value: (w, board, cores) => (w.pid === 0 ? 0 : Math.max(0, cores - board.busyCores(w.id))) },
  { name: 'tsgi_worker_accepting', type: 'gauge', help: '1 while the worker accepts connections, else 0.', value: (w) => w.accepting },
  { name: 'tsgi_worker_running', type: 'gauge', help: '1 while a process holds the worker slot, 0 when it is cheap (retired by --cheaper, or not spawned).', value: (w) => (w.pid === 0 ? 0 : 1) },
  { name: 'tsgi_worker_resident_memory_bytes', type: 'gauge', help: 'Resident set size of the worker process (refreshed each second).', value: (w) => w.rss },
  { name: 'tsgi_worker_virtual_memory_bytes', type: 'gauge', help: 'Virtual memory size of the worker process (refreshed each second).', value: (w) => w.vsz },
  { name: 'tsgi_worker_last_spawn_timestamp_seconds', type: 'gauge', help: 'When the worker process was spawned (unix time).', value: (w) => w.last_spawn },
];

/** Writes every per-worker family for the `cores` per worker (--async) of the board's slots. */
export function writeWorkerFamilies(out: Exposition, board: Scoreboard, cores: number): void {
  const workers = board.readAll();
  const labels = workers.map((worker) => labelText([['worker', String(worker.id)]]));
  for (const family of FAMILIES) {
    out.family(family.name, family.type, family.help);
    const name = family.type === 'counter' ? `${family.name}_total` : family.name;
    workers.forEach((worker, i) => out.sample(name, labels[i]!, family.value(worker, board, cores)));
  }
  out.family('tsgi_request_duration_seconds', 'histogram', 'Wall time of the requests the worker served, from the request read to the response sent.');
  workers.forEach((worker, i) => {
    const { buckets, seconds } = board.durations(worker.id);
    out.histogram('tsgi_request_duration_seconds', labels[i]!, DURATION_BUCKETS, buckets, seconds);
  });
}
