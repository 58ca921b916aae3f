/**
 * uWSGI's cache in shared memory: the module the rest of tsgi imports. The code lives in cache/,
 * one concern a file, each with the part of the design notes that explains it:
 *
 *   cache/shared-cache.ts  the SharedCache class: uWSGI's semantics, the public API
 *   cache/layout.ts        the area layout: offsets, geometry, cacheAreaSize, the typed views
 *   cache/hash-index.ts    items, hash chains, buckets, free stack, djb33x; the crash-safe write order
 *   cache/repair.ts        rebuilding the index from the state words after a dead lock holder
 *   cache/seqlock.ts       get/exists without the lock (x86), and what writers do for it
 *   cache/store.ts         `--cache-store FILE`: openCacheStore, attachCacheStore, the file header
 *   cache/types.ts         CacheArea, CacheOptions, CacheStats, CacheBytes
 */
export { COUNT_FLUSH, SharedCache } from './cache/shared-cache.js';
export { cacheAreaSize } from './cache/layout.js';
export { djb33x } from './cache/hash-index.js';
export { attachCacheStore, openCacheStore } from './cache/store.js';
export type { CacheArea, CacheBytes, CacheOptions, CacheStats } from './cache/types.js';
