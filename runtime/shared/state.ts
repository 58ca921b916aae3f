/**
 * Everything the processes of one instance share: the region (scoreboard, cache, queue) the
 * master creates and every worker maps, plus the `--cache-store` file when there is one.
 */
import type { Options } from '../options.js';
import { attachCacheStore, cacheAreaSize, openCacheStore, SharedCache, type CacheOptions } from './cache.js';
import { queueAreaSize, SharedQueue, type QueueOptions } from './queue.js';
import { createRegion, mapRegion, type Region, type RegionLayout } from './region.js';
import { Scoreboard, scoreboardSize } from './scoreboard.js';
import { SpoolerBoard, spoolerBoardSize } from './spooler-board.js';
import { ClusterBoard, clusterBoardSize } from './cluster-board.js';
import { log } from '../logger.js';
import { AppBoard, appBoardSize } from '../apps/app-board.js';
import { multiAppMode } from '../apps/options.js';
import { ThreadBoard, threadBoardSize } from '../threads/board.js';

export interface SharedState {
  region: Region;
  scoreboard: Scoreboard;
  /** Null without --spooler. */
  spoolers: SpoolerBoard | null;
  cache: SharedCache | null;
  queue: SharedQueue | null;
  /** The cluster's node table; null without --cluster or --cluster-nodes. */
  cluster: ClusterBoard | null;
  /** Each worker's mounted apps; null without multi-app mode (apps/options.ts). */
  apps: AppBoard | null;
  /** One scoreboard slot per worker thread; null without --threads. */
  threads: ThreadBoard | null;
}

const joinsCluster = (options: Options) => options.cluster !== undefined || options['cluster-nodes'] !== undefined;

function cacheOptions(options: Options): CacheOptions | null {
  if (options.cache === 0) return null;
  return { items: options.cache, blocksize: options['cache-blocksize'], onFull: (name) => log(`*** DANGER cache "${name}" is FULL !!! ***`) };
}

function queueOptions(options: Options): QueueOptions | null {
  return options.queue === 0 ? null : { slots: options.queue, blocksize: options['queue-blocksize'] };
}

/** Areas in the memfd region; a `--cache-store` cache lives in its file instead. */
function layout(options: Options): RegionLayout {
  const cache = cacheOptions(options);
  const queue = queueOptions(options);
  return {
    // Room for --processes' maximum, not its value: a reload may grow the pool (SIGHUP with a
    // bigger --processes, the master FIFO's `+`) while the old generation still maps this region,
    // so its layout can never depend on the worker count. 256 KiB of a sparse memfd.
    scoreboard: scoreboardSize(SCOREBOARD_SLOTS),
    spoolers: spoolerBoardSize(options.spooler.length * options['spooler-processes']),
    cache: cache && options['cache-store'] === undefined ? cacheAreaSize(cache) : 0,
    queue: queue ? queueAreaSize(queue) : 0,
    cluster: clusterBoardSize(joinsCluster(options)),
    apps: multiAppMode(options) ? appBoardSize(SCOREBOARD_SLOTS, options['max-apps']) : 0,
    threads: threadBoardSize(SCOREBOARD_SLOTS, options.threads),
  };
}

/** The most workers an instance can have (the --processes row's max). */
export const SCOREBOARD_SLOTS = 1024;

function spoolerBoard(region: Region, options: Options): SpoolerBoard | null {
  return options.spooler.length === 0 ? null : new SpoolerBoard(region.area('spoolers'), options.spooler, options['spooler-processes']);
}

function appBoard(region: Region, options: Options): AppBoard | null {
  return multiAppMode(options) ? new AppBoard(region.area('apps'), options['max-apps']) : null;
}

function threadBoard(region: Region, options: Options): ThreadBoard | null {
  return options.threads <= 1 ? null : new ThreadBoard(region.area('threads'), options.threads);
}

/** Master (or single process): creates and formats everything. */
export function createSharedState(options: Options): SharedState {
  const region = createRegion(layout(options));
  const cache = cacheOptions(options);
  const queue = queueOptions(options);
  return {
    region,
    scoreboard: new Scoreboard(region.area('scoreboard'), options.processes),
    spoolers: spoolerBoard(region, options),
    cache: cache === null ? null : options['cache-store'] !== undefined ? openCacheStore(options['cache-store'], cache) : SharedCache.format(region.area('cache'), cache),
    queue: queue === null ? null : SharedQueue.format(region.area('queue'), queue),
    cluster: joinsCluster(options) ? new ClusterBoard(region.area('cluster'), options['cluster-tolerance'] * 1000) : null,
    apps: appBoard(region, options),
    threads: threadBoard(region, options),
  };
}

/** Worker: maps what the master created (the region arrives as an inherited fd). */
export function attachSharedState(fd: number, options: Options): SharedState {
  const region = mapRegion(fd, layout(options));
  const cache = cacheOptions(options);
  const queue = queueOptions(options);
  return {
    region,
    scoreboard: new Scoreboard(region.area('scoreboard'), options.processes),
    spoolers: spoolerBoard(region, options),
    cache: cache === null ? null : options['cache-store'] !== undefined ? attachCacheStore(options['cache-store'], cache) : SharedCache.attach(region.area('cache'), cache),
    queue: queue === null ? null : SharedQueue.attach(region.area('queue'), queue),
    cluster: joinsCluster(options) ? new ClusterBoard(region.area('cluster'), options['cluster-tolerance'] * 1000) : null,
    apps: appBoard(region, options),
    threads: threadBoard(region, options),
  };
}
