/**
 * The `uwsgi` module apps import: `import uwsgi from 'tsgi'`. Members keep the names of
 * uWSGI's Python module, so the talk's examples read the same in JS. This file only composes
 * the api's areas (green threads, stats, cache, queue, rpc, signals, spooler, cluster, apps), one module each.
 *
 * @example
 * import uwsgi from 'tsgi';
 *
 * export function* application(env, start_response) {
 *   start_response('200 OK', [['Content-Type', 'text/html']]);
 *   yield '<h1>One</h1>';
 *   yield uwsgi.async_sleep(1);
 *   yield '<h2>Two</h2>';
 * }
 */
import { appsApi } from './apps.js';
import { cacheApi } from './cache.js';
import { clusterApi } from './cluster.js';
import { greenApi } from './green.js';
import { logApi } from './log.js';
import { queueApi } from './queue.js';
import { rpcApi } from './rpc.js';
import { signalApi } from './signals.js';
import { spoolerApi } from './spooler.js';
import { statsApi } from './stats.js';

export type { App, Headers, StartResponse } from '../runtime/worker/core.js';
export type { Environ } from '../runtime/worker/environ.js';
export type { RequestInput } from '../runtime/worker/input.js';
export type { Chunk } from '../green/thread.js';
export type { Suspension } from '../green/suspension.js';
export type { SpoolerHandler, SpoolerTask } from './spooler.js';
export type { Bytes } from './types.js';
export type { AppStats } from './apps.js';

/**
 * The whole api: every area's members on one object, as uWSGI's `uwsgi` module.
 * @example
 * import uwsgi, { type Uwsgi } from 'tsgi';
 * const api: Uwsgi = uwsgi;
 * api.cache_set('pippo', 'pluto');
 */
export type Uwsgi = typeof greenApi & typeof statsApi & typeof cacheApi & typeof queueApi
  & typeof rpcApi & typeof signalApi & typeof spoolerApi & typeof clusterApi & typeof appsApi & typeof logApi;

function createUwsgi(): Uwsgi {
  // Spread would call the getters (started_on) at import time: copy descriptors instead.
  const areas = [greenApi, statsApi, cacheApi, queueApi, rpcApi, signalApi, spoolerApi, clusterApi, appsApi, logApi];
  const api = {};
  for (const area of areas) Object.defineProperties(api, Object.getOwnPropertyDescriptors(area));
  return api as Uwsgi;
}

// One api object per process, even when an app brings its own copy of the package.
const KEY = Symbol.for('tsgi.api');
const holder = globalThis as { [KEY]?: Uwsgi };
const uwsgi: Uwsgi = (holder[KEY] ??= createUwsgi());

export default uwsgi;
