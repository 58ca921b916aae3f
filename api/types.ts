/** Types shared by the api's modules. */

/**
 * Keys, values and messages of the cache and the queue: strings are stored as UTF-8.
 * @example
 * const key: Bytes = 'pippo';
 * uwsgi.cache_set(key, Buffer.from([1, 2, 3]));
 */
export type Bytes = string | Uint8Array;
