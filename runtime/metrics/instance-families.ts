/**
 * The families of the instance as a whole: listen queues per socket, the cache, the queue,
 * the spoolers' backlogs, and the master process itself. A family whose subsystem is off
 * (no --cache, no --queue, no --spooler) is left out rather than reported as zeros.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BoundSocket } from '../master/listeners.js';
import { native } from '../native.js';
import type { SharedState } from '../shared/state.js';
import { SPOOL_FILE_PREFIX } from '../spooler/spool-file.js';
import { processMemory } from '../stats/memory.js';
import { labelText, type Exposition } from './exposition.js';

/** What the instance families read. */
export interface InstanceView {
  shared: SharedState;
  sockets: readonly BoundSocket[];
  /** --listen: the backlog every socket was bound with. */
  listen: number;
  spoolerDirs: readonly string[];
}

export function writeInstanceFamilies(out: Exposition, view: InstanceView): void {
  writeListenQueues(out, view);
  writeCache(out, view.shared);
  writeQueue(out, view.shared);
  writeSpoolers(out, view);
  writeMaster(out);
}

/**
 * Connections waiting for a worker's accept: TCP_INFO for a TCP listener, sock_diag for a unix
 * one (`ss -l` shows the same in Recv-Q). A socket the kernel says nothing about (-errno) is
 * left out rather than reported as an empty queue.
 */
function listenQueue(socket: BoundSocket): number {
  return socket.address.kind === 'tcp' ? native.listenQueue(socket.fd) : native.unixListenQueue(socket.fd);
}

function writeListenQueues(out: Exposition, { sockets, listen }: InstanceView): void {
  const known = sockets.map((socket) => ({ labels: labelText([['socket', socket.name]]), waiting: listenQueue(socket) })).filter((row) => row.waiting >= 0);
  if (known.length === 0) return;
  out.family('tsgi_socket_listen_queue', 'gauge', 'Connections waiting in the accept queue of a listening socket.');
  for (const { labels, waiting } of known) out.sample('tsgi_socket_listen_queue', labels, waiting);
  out.family('tsgi_socket_listen_queue_limit', 'gauge', 'Backlog the socket was bound with (--listen; the kernel caps it at net.core.somaxconn).');
  for (const { labels } of known) out.sample('tsgi_socket_listen_queue_limit', labels, listen);
}

function writeCache(out: Exposition, shared: SharedState): void {
  const cache = shared.cache?.stats();
  if (cache === undefined) return;
  const labels = labelText([['cache', cache.name]]);
  out.family('tsgi_cache_items', 'gauge', 'Items in the cache now.');
  out.sample('tsgi_cache_items', labels, cache.items);
  out.family('tsgi_cache_capacity_items', 'gauge', 'Items the cache can hold.');
  out.sample('tsgi_cache_capacity_items', labels, cache.capacity);
  out.family('tsgi_cache_hits', 'counter', 'Cache gets that found their key (each worker adds its count every 1024 gets, or when it writes).');
  out.sample('tsgi_cache_hits_total', labels, cache.hits);
  out.family('tsgi_cache_misses', 'counter', 'Cache gets that found no key (added as the hits are).');
  out.sample('tsgi_cache_misses_total', labels, cache.misses);
  out.family('tsgi_cache_full', 'counter', 'Cache sets refused because every item was in use.');
  out.sample('tsgi_cache_full_total', labels, cache.full);
}

function writeQueue(out: Exposition, shared: SharedState): void {
  const queue = shared.queue;
  if (queue === null) return;
  out.family('tsgi_queue_messages', 'gauge', 'Messages stored in the shared queue now (its depth).');
  out.sample('tsgi_queue_messages', '', queue.depth());
  out.family('tsgi_queue_slots', 'gauge', 'Slots of the shared queue (--queue).');
  out.sample('tsgi_queue_slots', '', queue.size);
}

/** Spool files waiting in `dir` and its priority subdirectories (names only: no stat per task). */
function backlog(dir: string): number {
  let waiting = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (entry.name.startsWith(SPOOL_FILE_PREFIX)) waiting++;
    else if (entry.isDirectory() && /^\d+$/.test(entry.name)) waiting += backlog(join(dir, entry.name));
  }
  return waiting;
}

function writeSpoolers(out: Exposition, { shared, spoolerDirs }: InstanceView): void {
  const board = shared.spoolers;
  if (board === null) return;
  const spoolers = board.readAll();
  out.family('tsgi_spooler_backlog_tasks', 'gauge', 'Tasks waiting in the spooler directory (the one running included).');
  for (const dir of spoolerDirs) out.sample('tsgi_spooler_backlog_tasks', labelText([['spooler', dir]]), backlog(dir));
  const perDir = (pick: (row: (typeof spoolers)[number]) => number) => spoolerDirs.map((dir) => [dir, spoolers.filter((row) => row.dir === dir).reduce((sum, row) => sum + pick(row), 0)] as const);
  out.family('tsgi_spooler_running_tasks', 'gauge', 'Tasks the spooler processes of the directory run now.');
  for (const [dir, running] of perDir((row) => row.running)) out.sample('tsgi_spooler_running_tasks', labelText([['spooler', dir]]), running);
  out.family('tsgi_spooler_tasks', 'counter', 'Tasks the spooler processes of the directory ran to an answer.');
  for (const [dir, tasks] of perDir((row) => row.tasks)) out.sample('tsgi_spooler_tasks_total', labelText([['spooler', dir]]), tasks);
  out.family('tsgi_spooler_respawns', 'counter', 'Spooler processes of the directory replaced after their first.');
  for (const [dir, respawns] of perDir((row) => row.respawns)) out.sample('tsgi_spooler_respawns_total', labelText([['spooler', dir]]), respawns);
}

/** The master itself, in the names every Prometheus client library uses for its process. */
function writeMaster(out: Exposition): void {
  out.family('process_resident_memory_bytes', 'gauge', 'Resident set size of the master process.');
  out.sample('process_resident_memory_bytes', '', processMemory()[0]);
  out.family('process_start_time_seconds', 'gauge', 'When the master process started (unix time).');
  out.sample('process_start_time_seconds', '', Math.floor(Date.now() / 1000 - process.uptime()));
}
