/**
 * uWSGI 2.0's cache (`core/cache.c`) as a data structure in shared memory:
 * every worker maps the same area and reads and writes it in place under a {@link SharedLock}.
 * This file is its API; the layout is in layout.ts, the index in hash-index.ts, crash repair in
 * repair.ts, the lock-free reads in seqlock.ts, `--cache-store` in store.ts.
 *
 * What is uWSGI's, exactly: `--cache N` gives N slots of which N−1 are usable; values up to
 * `--cache-blocksize` bytes (65536), keys up to 2048 bytes; djb33x hash (with C's signed `char`,
 * as uWSGI computes it on x86) over 65536 buckets; `set` only creates (an existing key fails and
 * changes nothing), `update` creates or overwrites and resets the expiry (0 = never); `expires`
 * is seconds from now, stored as an absolute second; expired items are still returned by
 * get/exists until the sweeper (the master, every `--cache-expire-freq` s) removes them, unless
 * `lazyExpire` (uWSGI's `lazy_expire=1`), which deletes them on access and disables the sweep;
 * failures return false: empty key or value, key too long, value too big, cache full, existing
 * key on `set`; hits/misses/full counters. Items are not binary-compatible with uWSGI's.
 *
 * What is ours: crash safety (hash-index.ts, repair.ts) and reads without the lock (seqlock.ts).
 * Per-process hit/miss counts are added to the shared counters in batches (every
 * {@link COUNT_FLUSH} gets, and whenever that process holds the lock anyway): uWSGI's own
 * counters are bumped racily under a read lock. Key encoding and hashing happen before the
 * lock; a value read is copied into a scratch buffer under it and into its own Buffer after it.
 *
 * The class keeps its typed views in one {@link CacheMemory} and hands it to the functions of
 * the other files: plain calls, which V8 inlines like the private methods they used to be.
 */
import { native } from '../../native.js';
import { tsgiError } from '../../errors.js';
import { SharedLock } from '../lock.js';
import { CacheMemory, F, geometry, H, headerMismatch, Hot, I, Item, Offset, State, writeHeader } from './layout.js';
import { asBuffer, djb33x, fill, findItem, Found, linkHead, rebuildFreeStack, remove, replace } from './hash-index.js';
import { checkIndex, repair } from './repair.js';
import { endWrite, mutate, Read, readOptimistic } from './seqlock.js';
import type { CacheArea, CacheBytes, CacheOptions, CacheStats } from './types.js';

/** A process adds its hits/misses to the shared counters at least every this many gets. */
export const COUNT_FLUSH = 1024;

/** Items the sweeper examines per lock hold, so a sweep never stalls the workers for long. */
const SWEEP_BATCH = 1024;

const defaultClock = () => Math.floor(Date.now() / 1000);

function argumentError(message: string): never {
  throw tsgiError('TSGI_ERR_API_ARGUMENT', message);
}

export class SharedCache {
  readonly name: string;
  readonly #lock: SharedLock;
  readonly #m: CacheMemory;
  #pendingHits = 0;
  #pendingMisses = 0;
  readonly #keyScratch: Buffer;
  readonly #valueScratch: Buffer;
  readonly #lazy: boolean;
  readonly #clock: () => number;
  readonly #onFull: ((name: string) => void) | undefined;

  private constructor(area: CacheArea, options: CacheOptions) {
    const g = geometry(options);
    this.name = options.name ?? 'default';
    if (area.byteLength < g.size || area.byteOffset % 8 !== 0) {
      throw tsgiError('TSGI_ERR_SHM', `cache "${this.name}" needs ${g.size} bytes at an 8-byte aligned offset, the area has ${area.byteLength} at ${area.byteOffset}`);
    }
    this.#lock = new SharedLock(area.buffer, area.byteOffset);
    this.#m = new CacheMemory(area, g);
    // +4: a UTF-8 write that stops short of a character still proves the key is too long.
    this.#keyScratch = Buffer.allocUnsafeSlow(g.keysize + 4);
    this.#valueScratch = Buffer.allocUnsafeSlow(g.blocksize);
    this.#lazy = options.lazyExpire === true;
    this.#clock = options.clock ?? defaultClock;
    this.#onFull = options.onFull;
  }

  /**
   * Master: formats a new, empty cache in `area` (zeroed memory such as a fresh region), and
   * returns this process's handle on it.
   */
  static format(area: CacheArea, options: CacheOptions): SharedCache {
    const cache = new SharedCache(area, options);
    const m = cache.#m;
    m.bytes.fill(0, 0, m.keysOffset);
    writeHeader(m);
    rebuildFreeStack(m);
    return cache;
  }

  /** Worker: a handle on the cache the master formatted in `area`; the header must match `options`. */
  static attach(area: CacheArea, options: CacheOptions): SharedCache {
    const cache = new SharedCache(area, options);
    const mismatch = headerMismatch(cache.#m);
    if (mismatch !== undefined) throw tsgiError('TSGI_ERR_SHM', `cache "${cache.name}": the shared area holds ${mismatch}`);
    return cache;
  }

  // ---------------------------------------------------------------------------- public API

  /** uWSGI `cache_get`: a copy of the value, or null (missing, or expired with lazyExpire). */
  get(key: CacheBytes): Buffer | null {
    const keylen = this.#encodeKey(key);
    const m = this.#m;
    let vallen = keylen > 0 ? readOptimistic(m, this.#keyBytes, keylen, this.#keyHash, true, this.#valueScratch, this.#lazy, this.#clock) : Read.RETRY;
    if (vallen === Read.RETRY) {
      this.#enter();
      try {
        const index = keylen > 0 ? this.#find(this.#keyBytes, keylen, this.#keyHash) : -1;
        if (index < 0) {
          vallen = Read.MISSING;
        } else {
          vallen = m.i32[m.itemsW + index * Item.WORDS + I.VALLEN]!;
          const start = m.valuesOffset + index * m.blocksize;
          m.bytes.copy(this.#valueScratch, 0, start, start + vallen);
        }
      } finally {
        this.#leave();
      }
    }
    if (vallen === Read.MISSING) {
      this.#count(false);
      return null;
    }
    this.#count(true);
    // Allocated outside the lock: a big Buffer costs tens of microseconds (and may run the GC),
    // a copy into the scratch buffer a few; the other processes wait only for the latter.
    const out = Buffer.allocUnsafe(vallen);
    this.#valueScratch.copy(out, 0, 0, vallen);
    return out;
  }

  /** uWSGI `cache_exists`. */
  exists(key: CacheBytes): boolean {
    const keylen = this.#encodeKey(key);
    if (keylen <= 0) return false;
    const found = readOptimistic(this.#m, this.#keyBytes, keylen, this.#keyHash, false, this.#valueScratch, this.#lazy, this.#clock);
    if (found !== Read.RETRY) return found !== Read.MISSING;
    this.#enter();
    try {
      return this.#find(this.#keyBytes, keylen, this.#keyHash) >= 0;
    } finally {
      this.#leave();
    }
  }

  /**
   * uWSGI `cache_set`: creates `key` only if it does not exist (an existing key fails and keeps
   * its value and expiry). `expires` is seconds from now, 0 = never. False when the key exists,
   * is empty or too long, the value is empty or too big, or the cache is full.
   */
  set(key: CacheBytes, value: CacheBytes, expires = 0): boolean {
    return this.#store(key, value, expires, false);
  }

  /** uWSGI `cache_update`: creates or overwrites `key`, and sets its expiry anew (0 = never). */
  update(key: CacheBytes, value: CacheBytes, expires = 0): boolean {
    return this.#store(key, value, expires, true);
  }

  /** uWSGI `cache_del`: true if the key was there (with lazyExpire, not if it had expired). */
  del(key: CacheBytes): boolean {
    const keylen = this.#encodeKey(key);
    if (keylen <= 0) return false;
    this.#enter();
    try {
      const index = this.#find(this.#keyBytes, keylen, this.#keyHash);
      if (index < 0) return false;
      remove(this.#m, index);
      return true;
    } finally {
      this.#leave();
    }
  }

  /** uWSGI `cache_clear`: removes every item (counters stay). Always true. */
  clear(): boolean {
    const lock = this.#lock;
    lock.acquire(); // the clear rebuilds everything a repair would
    try {
      const m = this.#m;
      mutate(m);
      const { items, itemsOffset, freeOffset } = m;
      for (let i = 0; i < items; i++) Atomics.store(m.i32, m.itemsW + i * Item.WORDS + I.STATE, State.FREE);
      m.bytes.fill(0, Offset.BUCKETS, itemsOffset);
      m.bytes.fill(0, itemsOffset, freeOffset);
      rebuildFreeStack(m);
      m.f64[F.NEXT_SCAN] = 0;
      lock.repaired();
      return true;
    } finally {
      this.#leave();
    }
  }

  /**
   * The master's sweeper (every `--cache-expire-freq` s): removes items whose expiry is ≤ `now`
   * (whole seconds), taking the lock for {@link SWEEP_BATCH} items at a time. Returns how many
   * it removed. Does nothing with lazyExpire, or while no item can have expired yet.
   */
  sweep(now: number = this.#clock()): number {
    if (this.#lazy) return 0;
    const m = this.#m;
    const f64 = m.f64;
    this.#enter();
    try {
      const next = f64[F.NEXT_SCAN]!;
      if (next === 0 || next > now) return 0;
      f64[F.NEXT_SCAN] = 0; // recomputed below from the items that stay
    } finally {
      this.#leave();
    }
    let removed = 0;
    const { items } = m;
    for (let start = 0; start < items; start += SWEEP_BATCH) {
      this.#enter();
      try {
        const end = Math.min(items, start + SWEEP_BATCH);
        for (let i = start; i < end; i++) {
          if (m.i32[m.itemsW + i * Item.WORDS + I.STATE] !== State.LIVE) continue;
          const expires = f64[m.itemsF + i * Item.F64 + I.EXPIRES]!;
          if (expires === 0) continue;
          if (expires <= now) {
            remove(m, i);
            f64[F.SWEPT]!++;
            removed++;
          } else if (f64[F.NEXT_SCAN] === 0 || f64[F.NEXT_SCAN]! > expires) {
            f64[F.NEXT_SCAN] = expires;
          }
        }
      } finally {
        this.#leave();
      }
    }
    return removed;
  }

  /**
   * Counters and sizes, taken under the lock. hits and misses include this process's own
   * operations, but up to {@link COUNT_FLUSH} − 1 of each other process's may not be added yet.
   */
  stats(): CacheStats {
    const lock = this.#lock;
    this.#enter();
    try {
      this.#flushCounts();
      const m = this.#m;
      const f64 = m.f64;
      return {
        name: this.name,
        items: m.i32[H.COUNT]!,
        capacity: this.capacity,
        blocksize: m.blocksize,
        keysize: m.keysize,
        hits: m.hot[Hot.HITS]!,
        misses: m.hot[Hot.MISSES]!,
        full: f64[F.FULL]!,
        tooBig: f64[F.TOO_BIG]!,
        keyTooLong: f64[F.KEY_TOO_LONG]!,
        swept: f64[F.SWEPT]!,
        repairs: f64[F.REPAIRS]!,
        lockSteals: lock.steals,
      };
    } finally {
      this.#leave();
    }
  }

  /** Usable items (`--cache` − 1). */
  get capacity(): number {
    return Math.max(0, this.#m.items - 1);
  }

  /** The largest value in bytes. */
  get blocksize(): number {
    return this.#m.blocksize;
  }

  /** The largest key in bytes. */
  get keysize(): number {
    return this.#m.keysize;
  }

  /** The lock guarding this cache (for the master's reap, and for tests). */
  get lock(): SharedLock {
    return this.#lock;
  }

  /** msync of a file-backed cache (--cache-store), e.g. at a clean shutdown. */
  sync(): void {
    native.shmSync(this.#m.bytes.buffer as ArrayBuffer);
  }

  /**
   * Rebuilds the index from the items' state words (repair.ts), then clears the lock's dirty
   * flag. Called with the lock held when {@link SharedLock.acquire} reports that a holder died
   * inside; idempotent, so a repairer dying halfway is repaired again.
   */
  repair(): void {
    repair(this.#m, this.#lock);
  }

  /**
   * Checks every invariant of the index against the items (for tests and debugging): returns
   * the problems found, [] when consistent. Takes the lock (repairing first if needed).
   */
  verify(): string[] {
    this.#enter();
    try {
      return checkIndex(this.#m);
    } finally {
      this.#leave();
    }
  }

  // ---------------------------------------------------------------------------- internals

  /** Set by #encodeKey: the buffer whose first `keylen` bytes are the key, and their hash. */
  #keyBytes: Buffer = Buffer.alloc(0);
  #keyHash = 0;

  /**
   * Puts the key's bytes in #keyBytes and their hash in #keyHash, and returns their length: 0
   * for an empty key, −1 for one longer than keysize. Strings are encoded into a reusable
   * scratch buffer. All of it happens before the lock is taken, to keep the critical section short.
   */
  #encodeKey(key: CacheBytes): number {
    const keysize = this.#m.keysize;
    let length: number;
    if (typeof key === 'string') {
      length = key.length === 0 ? 0 : this.#keyScratch.write(key, 0, 'utf8');
      this.#keyBytes = this.#keyScratch;
    } else if (key instanceof Uint8Array) {
      this.#keyBytes = asBuffer(key);
      length = key.length;
    } else {
      argumentError(`a cache key must be a string or a Buffer, got ${typeof key}`);
    }
    if (length > keysize) return -1;
    this.#keyHash = djb33x(this.#keyBytes, length);
    return length;
  }

  /** Item index of the key, or −1. With lazyExpire an expired item is deleted and reported missing. */
  #find(key: Buffer, keylen: number, hash: number): number {
    const m = this.#m;
    const index = findItem(m, key, keylen, hash);
    if (index >= 0) {
      if (this.#lazy) {
        const expires = m.f64[m.itemsF + index * Item.F64 + I.EXPIRES]!;
        if (expires !== 0 && expires <= this.#clock()) {
          remove(m, index);
          m.f64[F.SWEPT]!++;
          return -1;
        }
      }
      return index;
    }
    if (index === Found.LOOPED) {
      this.repair();
      return this.#find(key, keylen, hash);
    }
    return -1;
  }

  #store(key: CacheBytes, value: CacheBytes, expires: number, overwrite: boolean): boolean {
    if (typeof expires !== 'number' || !(expires >= 0) || expires === Infinity) {
      argumentError(`cache expires must be a number of seconds ≥ 0 (0 = never), got ${String(expires)}`);
    }
    const keylen = this.#encodeKey(key);
    let vallen: number;
    if (typeof value === 'string') vallen = Buffer.byteLength(value, 'utf8');
    else if (value instanceof Uint8Array) vallen = value.length;
    else argumentError(`a cache value must be a string or a Buffer, got ${typeof value}`);
    if (keylen === 0 || vallen === 0) return false;
    if (keylen < 0) return this.#fail(F.KEY_TOO_LONG);
    const m = this.#m;
    if (vallen > m.blocksize) return this.#fail(F.TOO_BIG);

    const i32 = m.i32;
    let full = false;
    this.#enter();
    try {
      const keyBytes = this.#keyBytes;
      const hash = this.#keyHash;
      const existing = this.#find(keyBytes, keylen, hash);
      if (existing >= 0 && !overwrite) return false;
      if (existing < 0 && i32[H.COUNT]! >= m.items - 1) {
        m.f64[F.FULL]!++;
        full = true;
        return false;
      }
      const absolute = expires > 0 ? this.#clock() + Math.ceil(expires) : 0;
      // Pop a free item: there is always one, since at most items − 1 are live.
      const top = i32[H.FREE_TOP]! - 1;
      if (top < 0) throw tsgiError('TSGI_ERR_SHM', `cache "${this.name}": no free item although only ${i32[H.COUNT]} of ${this.capacity} are live (damaged memory)`);
      const index = i32[m.freeW + top]!;
      i32[H.FREE_TOP] = top;
      fill(m, index, keyBytes, keylen, hash, value, vallen, absolute);
      if (existing >= 0) {
        replace(m, existing, index);
      } else {
        linkHead(m, index);
        i32[H.COUNT]!++;
      }
      if (absolute !== 0) {
        const next = m.f64[F.NEXT_SCAN]!;
        if (next === 0 || next > absolute) m.f64[F.NEXT_SCAN] = absolute;
      }
      return true;
    } finally {
      this.#leave();
      if (full) this.#onFull?.(this.name);
    }
  }

  /** Bumps a failure counter (under the lock: other processes bump it too); returns false. */
  #fail(counter: F): false {
    this.#enter();
    try {
      this.#m.f64[counter]!++;
    } finally {
      this.#leave();
    }
    return false;
  }

  // Locking, and what optimistic readers need from writers.

  /** Takes the lock, repairing first if a holder died inside. */
  #enter(): void {
    if (this.#lock.acquire()) this.repair();
  }

  /**
   * Ends a write (seqlock.ts: the sequence number becomes even again), adds this process's
   * pending hit/miss counts while the lock's cache line is ours, and releases.
   */
  #leave(): void {
    endWrite(this.#m);
    if (this.#pendingHits + this.#pendingMisses !== 0) this.#flushCounts();
    this.#lock.release();
  }

  #flushCounts(): void {
    const hot = this.#m.hot;
    hot[Hot.HITS]! += this.#pendingHits;
    hot[Hot.MISSES]! += this.#pendingMisses;
    this.#pendingHits = 0;
    this.#pendingMisses = 0;
  }

  /** Counts a get; the shared counters get this process's counts in batches (see stats()). */
  #count(hit: boolean): void {
    if (hit) this.#pendingHits++;
    else this.#pendingMisses++;
    if (this.#pendingHits + this.#pendingMisses >= COUNT_FLUSH) {
      this.#enter();
      this.#leave();
    }
  }
}
