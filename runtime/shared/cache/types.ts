/**
 * The cache's public types (re-exported by runtime/shared/cache.ts): where a cache lives, its
 * options, its counters, and what keys and values may be.
 */
/** Where a cache lives: a region area (region.ts) or any mapped buffer slice. */
export interface CacheArea {
  readonly buffer: ArrayBuffer;
  readonly byteOffset: number;
  readonly byteLength: number;
}

export interface CacheOptions {
  /** `--cache N`: slots, of which N−1 are usable (uWSGI reserves slot 0). */
  items: number;
  /** `--cache-blocksize`: the largest value in bytes. Default 65536. */
  blocksize?: number;
  /** Largest key in bytes. Default 2048. */
  keysize?: number;
  /** Hash buckets. Default 65536 (uWSGI's hashsize). */
  buckets?: number;
  /** uWSGI `lazy_expire=1`: expired items are deleted on access and never swept. */
  lazyExpire?: boolean;
  /** For messages. Default "default". */
  name?: string;
  /** Current time in whole seconds. Default `Math.floor(Date.now() / 1000)`; tests pass their own. */
  clock?: () => number;
  /**
   * Called (outside the lock) each time a new key does not fit: where the caller logs uWSGI's
   * `*** DANGER cache "<name>" is FULL !!! ***`.
   */
  onFull?: (name: string) => void;
}

/** Counters and sizes, read under the lock (a consistent snapshot). */
export interface CacheStats {
  name: string;
  /** Live items now. */
  items: number;
  /** Usable items: `--cache` − 1. */
  capacity: number;
  blocksize: number;
  keysize: number;
  hits: number;
  misses: number;
  /** set/update of a new key refused because all N−1 items were in use. */
  full: number;
  /** set/update refused because the value was larger than blocksize. */
  tooBig: number;
  /** set/update refused because the key was longer than keysize. */
  keyTooLong: number;
  /** Expired items removed by sweep() or lazily. */
  swept: number;
  /** Index rebuilds after a process died holding the lock (or a store was reopened). */
  repairs: number;
  /** Times the lock was taken over from a dead holder. */
  lockSteals: number;
}

/** Keys and values: bytes (Buffer or any Uint8Array) or strings (stored as UTF-8). */
export type CacheBytes = string | Uint8Array;
