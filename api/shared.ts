/**
 * The api over the instance's shared memory: stats of every worker, the cache and the queue.
 * All of it is read and written in place by any worker, with no round trip to the master.
 */
import { tsgiError } from '../runtime/errors.js';
import type { SharedCache } from '../runtime/shared/cache.js';
import type { SharedQueue } from '../runtime/shared/queue.js';
import type { WorkerStats } from '../runtime/shared/scoreboard.js';
import { remoteCache, remoteCacheTarget } from '../runtime/services/cache-service.js';
import { workerContext } from '../runtime/context.js';

export type Bytes = string | Uint8Array;

/** Remote target of a `name@host:port` cache argument, or null for the local cache. */
function target(member: string, name: string | undefined): { name: string; node: string } | null {
  if (name === undefined || name === '' || name === 'default') return null;
  const remote = remoteCacheTarget(name);
  if (remote === null) throw tsgiError('TSGI_ERR_API_ARGUMENT', `uwsgi.${member}: no cache named ${JSON.stringify(name)} (the local cache is "default"; a remote one is "name@host:port")`);
  return remote;
}

function timeout(member: string): number {
  return workerContext(member).options['socket-timeout'] * 1000;
}

function cache(member: string): SharedCache {
  const shared = workerContext(member).shared.cache;
  if (shared === null) throw tsgiError('TSGI_ERR_API_ARGUMENT', `uwsgi.${member}: no cache is configured (start tsgi with --cache N)`);
  return shared;
}

function queue(member: string): SharedQueue {
  const shared = workerContext(member).shared.queue;
  if (shared === null) throw tsgiError('TSGI_ERR_API_ARGUMENT', `uwsgi.${member}: no queue is configured (start tsgi with --queue N)`);
  return shared;
}

const startedOn = Math.floor(Date.now() / 1000);

export const sharedApi = {
  /**
   * Every worker of the instance, uWSGI's keys: id, pid, requests, delta_requests, exceptions,
   * signals, status ('idle'/'busy'), rss, vsz (bytes), running_time and avg_rt (µs),
   * last_spawn (unix s), respawn_count, tx (bytes sent), accepting.
   * @example
   * const busy = uwsgi.workers().filter((w) => w.status === 'busy').length;
   */
  workers(): WorkerStats[] {
    return workerContext('workers').shared.scoreboard.readAll();
  },
  /**
   * Gracefully reloads the whole instance, as SIGHUP to the master does. True if requested.
   * @example
   * if (env.PATH_INFO === '/admin/reload') uwsgi.reload();
   */
  reload(): boolean {
    const context = workerContext('reload');
    try {
      process.kill(context.masterPid || process.pid, 'SIGHUP');
      return true;
    } catch {
      return false;
    }
  },
  /**
   * When this worker process started (unix seconds).
   * @example
   * const uptime = Date.now() / 1000 - uwsgi.started_on;
   */
  get started_on(): number {
    workerContext('started_on');
    return startedOn;
  },
  /**
   * This worker's memory: [rss, vsz] in bytes.
   * @example
   * const [rss] = uwsgi.mem();
   */
  mem(): [rss: number, vsz: number] {
    workerContext('mem');
    const { rss, heapTotal, external } = process.memoryUsage();
    return [rss, heapTotal + external];
  },
  /**
   * Reads `key`: a copy of its value, or null. Expired items are returned until the master's
   * sweeper removes them (every --cache-expire-freq seconds), as in uWSGI. Every cache_* call
   * takes an optional last argument `'name@host:port'`: the cache of another tsgi or uWSGI
   * instance (uWSGI's magic protocol, modifier1 111); the call then returns a Promise to yield
   * or await.
   * @example
   * const value = uwsgi.cache_get('pippo')?.toString();
   * const remote = yield uwsgi.cache_get('pippo', 'default@192.168.0.1:3031');
   */
  cache_get(key: Bytes, cacheName?: string): Buffer | null | Promise<Buffer | null> {
    const remote = target('cache_get', cacheName);
    if (remote) return remoteCache(remote, 'get', key, null, 0, timeout('cache_get')) as Promise<Buffer | null>;
    return cache('cache_get').get(key);
  },
  /**
   * Creates `key` (expiring in `expires` seconds, 0 = never); false if it exists already, the
   * cache is full, or the key/value is too big (the cache's counters say which).
   * @example
   * uwsgi.cache_set('pippo', 'pluto');
   */
  cache_set(key: Bytes, value: Bytes, expires = 0, cacheName?: string): boolean | Promise<boolean> {
    const remote = target('cache_set', cacheName);
    if (remote) return remoteCache(remote, 'set', key, value, expires, timeout('cache_set')) as Promise<boolean>;
    return cache('cache_set').set(key, value, expires);
  },
  /**
   * Creates or overwrites `key`, resetting its expiry.
   * @example
   * uwsgi.cache_update('counter', String(n), 60);
   */
  cache_update(key: Bytes, value: Bytes, expires = 0, cacheName?: string): boolean | Promise<boolean> {
    const remote = target('cache_update', cacheName);
    if (remote) return remoteCache(remote, 'update', key, value, expires, timeout('cache_update')) as Promise<boolean>;
    return cache('cache_update').update(key, value, expires);
  },
  /**
   * Deletes `key`; false if it was not there.
   * @example
   * uwsgi.cache_del('pippo');
   */
  cache_del(key: Bytes, cacheName?: string): boolean | Promise<boolean> {
    const remote = target('cache_del', cacheName);
    if (remote) return remoteCache(remote, 'del', key, null, 0, timeout('cache_del')) as Promise<boolean>;
    return cache('cache_del').del(key);
  },
  /**
   * Whether `key` is in the cache.
   * @example
   * if (!uwsgi.cache_exists('config')) uwsgi.cache_set('config', load());
   */
  cache_exists(key: Bytes, cacheName?: string): boolean | Promise<boolean> {
    const remote = target('cache_exists', cacheName);
    if (remote) return remoteCache(remote, 'exists', key, null, 0, timeout('cache_exists')) as Promise<boolean>;
    return cache('cache_exists').exists(key);
  },
  /**
   * Empties the cache.
   * @example
   * uwsgi.cache_clear();
   */
  cache_clear(cacheName?: string): boolean | Promise<boolean> {
    const remote = target('cache_clear', cacheName);
    if (remote) return remoteCache(remote, 'clear', '', null, 0, timeout('cache_clear')) as Promise<boolean>;
    return cache('cache_clear').clear();
  },
  /**
   * Writes `message` at the push pointer (overwriting what was there) and advances it.
   * @example
   * uwsgi.queue_push('ciao');
   */
  queue_push(message: Bytes): boolean {
    return queue('queue_push').push(message);
  },
  /**
   * LIFO: moves the push pointer back and takes that message (null if the slot is empty).
   * @example
   * const last = uwsgi.queue_pop();
   */
  queue_pop(): Buffer | null {
    return queue('queue_pop').pop();
  },
  /**
   * FIFO: takes the message at the pull pointer and advances it (null if empty).
   * @example
   * for (let m = uwsgi.queue_pull(); m; m = uwsgi.queue_pull()) handle(m);
   */
  queue_pull(): Buffer | null {
    return queue('queue_pull').pull();
  },
  /**
   * Reads slot `index` without removing it.
   * @example
   * const first = uwsgi.queue_get(0);
   */
  queue_get(index: number): Buffer | null {
    return queue('queue_get').get(index);
  },
  /**
   * Writes slot `index`, leaving the pointers alone.
   * @example
   * uwsgi.queue_set(3, 'hello');
   */
  queue_set(index: number, message: Bytes): boolean {
    return queue('queue_set').set(index, message);
  },
  /**
   * The newest message (n = 0), or the last `n` newest-first (null for empty slots); nothing is
   * removed.
   * @example
   * const recent = uwsgi.queue_last(10);
   */
  queue_last(n = 0): Buffer | null | Array<Buffer | null> {
    return queue('queue_last').last(n);
  },
  /**
   * The push pointer.
   * @example
   * const next = uwsgi.queue_slot();
   */
  queue_slot(): number {
    return queue('queue_slot').slot();
  },
  /**
   * The pull pointer.
   * @example
   * const pending = uwsgi.queue_slot() - uwsgi.queue_pull_slot();
   */
  queue_pull_slot(): number {
    return queue('queue_pull_slot').pullSlot();
  },
};
