/**
 * The instance's cache (`--cache N`) from an app: one table in shared memory that every worker
 * reads and writes in place, or the cache of another tsgi or uWSGI node (`name@host:port`).
 */
import { tsgiError } from '../runtime/errors.js';
import type { SharedCache } from '../runtime/shared/cache.js';
import { remoteCache, remoteCacheTarget } from '../runtime/services/cache-service.js';
import { workerContext } from '../runtime/context.js';

import type { Bytes } from './types.js';

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

export const cacheApi = {
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
};
