/**
 * `--stats ADDR`: the master writes one JSON document to every connection and closes it, in
 * the shape of uWSGI's stats server (uWSGI's `core/stats.c` and the docs' `StatsServer.rst`), so `uwsgitop` and friends read tsgi.
 * `--stats-http` prefixes HTTP response headers; `--stats-minified` drops the indentation.
 */
import { unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { parseAddress } from '../address.js';
import type { BoundSocket } from '../master/listeners.js';
import type { StatsRows } from '../master/subsystem.js';
import { log } from '../logger.js';
import type { Options } from '../options.js';
import type { SharedState } from '../shared/state.js';
import { readStatsRequest } from './http-request.js';
import { appRows } from '../apps/stats.js';
import { threadCores } from '../threads/stats.js';

const VERSION = '2.0.30-tsgi';

/**
 * The whole document: the instance's own fields in uWSGI's key order, then the rows the
 * subsystems contribute (`workers`, `spoolers`, …) in the order they run.
 */
export function statsDocument(options: Options, shared: SharedState, sockets: readonly BoundSocket[], rows: StatsRows): Record<string, unknown> {
  const cache = shared.cache?.stats();
  return {
    version: VERSION,
    listen_queue: 0,
    listen_queue_errors: 0,
    signal_queue: 0,
    load: 0,
    pid: process.pid,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    cwd: process.cwd(),
    locks: [],
    ...(cache ? {
      caches: [{
        name: cache.name, hash: 'djb33x', hashsize: 65536, keysize: cache.keysize, max_items: cache.capacity + 1,
        blocks: cache.capacity + 1, blocksize: cache.blocksize, items: cache.items, hits: cache.hits, miss: cache.misses,
        full: cache.full, last_modified_at: 0,
      }],
    } : {}),
    cores_per_worker: options.async, // tsgi's own, with each worker's busy_cores: what `tsgi top` shows
    sockets: sockets.map((socket) => ({ name: socket.name, proto: socket.protocol, queue: 0, max_queue: options.listen, shared: 0, can_offload: 0 })),
    ...rows,
  };
}

/** The `workers` rows, read from the scoreboard (the same in a master and in a single process). */
export function workerRows(shared: SharedState, async = 1): StatsRows {
  return {
    workers: shared.scoreboard.readAll().map((worker) => ({
      id: worker.id, pid: worker.pid, accepting: worker.accepting, requests: worker.requests, delta_requests: worker.delta_requests,
      exceptions: worker.exceptions, harakiri_count: worker.harakiri_count, signals: worker.signals, signal_queue: 0, status: worker.status,
      rss: worker.rss, vsz: worker.vsz, running_time: worker.running_time, last_spawn: worker.last_spawn,
      respawn_count: worker.respawn_count + 1, tx: worker.tx, avg_rt: worker.avg_rt, apps: appRows(shared, worker), cores: threadCores(shared, worker.id, async),
      busy_cores: worker.pid === 0 ? 0 : shared.scoreboard.busyCores(worker.id), // tsgi's own: `cores` has one entry per --threads thread, not per --async core
    })),
  };
}

/** Another document the stats server answers under --stats-http (`/metrics`), or undefined for the JSON. */
export type StatsRoute = (path: string, accept: string | undefined) => { contentType: string; body: string } | undefined;

/** Starts the stats server; returns it so the master can close it at shutdown. */
export function startStatsServer(options: Options, render: () => Record<string, unknown>, route?: StatsRoute): Server {
  const address = parseAddress(options.stats!);
  const json = () => (options['stats-minified'] ? JSON.stringify(render()) : JSON.stringify(render(), null, '\t'));
  const server = createServer((socket) => {
    socket.on('error', () => {});
    if (!options['stats-http']) return void socket.end(json());
    readStatsRequest(socket, (request) => {
      const other = request === null ? undefined : route?.(request.path, request.accept);
      const { contentType, body } = other ?? { contentType: 'application/json', body: json() };
      if (!socket.destroyed) socket.end(`HTTP/1.0 200 OK\r\nContent-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
  });
  server.on('error', (error) => log(`stats server on ${options.stats}: ${error.message}`));
  if (address.kind === 'tcp') server.listen(address.port, address.host || '0.0.0.0');
  else if (address.kind === 'unix') {
    try {
      unlinkSync(address.path);
    } catch {
      // no stale file
    }
    server.listen(address.path);
  } else server.listen(`\0${address.name}`);
  log(`stats server on ${options.stats}`);
  return server;
}
