/**
 * uWSGI's cache (semantics.md §4, 2.0 `core/cache.c`) as a data structure in shared memory:
 * every worker maps the same area and reads and writes it in place under a {@link SharedLock}.
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
 * What is ours, for crash safety (issue 4: a worker SIGKILLed mid-write must not corrupt the
 * cache): the N slots are N physical items and at most N−1 are live, so one free item always
 * exists. A write never touches a live item's bytes: `update` writes the new value into a free
 * item, publishes it (state word LIVE, with a higher sequence number), swaps it into the hash
 * chain and only then frees the old one; `set` publishes before linking; `del` un-publishes
 * (state FREE) before unlinking. The state words and sequence numbers are the truth, the hash
 * chains, free stack and item count are an index derived from them. When a lock holder dies,
 * the lock is stolen and flagged dirty, and the next holder rebuilds the index from the state
 * words ({@link SharedCache.repair}): of two live copies of a key (an update cut short) the newer
 * wins. So a crash leaves each key with its old or its new value, never a torn one.
 *
 * What is ours, for speed: get and exists do not take the lock on x86 (cache/seqlock.ts).
 * Per-process hit/miss counts are added to the shared counters in batches (every
 * {@link COUNT_FLUSH} gets, and whenever that process holds the lock anyway): uWSGI's own
 * counters are bumped racily under a read lock. Key encoding and hashing happen before the
 * lock; a value read is copied into a scratch buffer under it and into its own Buffer after it.
 *
 * The class keeps its typed views in one {@link CacheMemory} (cache/layout.ts), which the
 * functions of cache/ take: plain calls, which V8 inlines like the private methods they were.
 *
 * The area layout is in cache/layout.ts, the public types in cache/types.ts.
 *
 * `--cache-store FILE` maps the same layout from a regular file ({@link openCacheStore}), so the
 * cache survives restarts; the header must match the options or startup fails
 * (TSGI_ERR_CACHE_STORE).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { native, type NativeSystemError } from '../native.js';
import { tsgiError } from '../errors.js';
import { LOCK_BYTES, SharedLock } from './lock.js';
import { cacheAreaSize, CacheMemory, describeGeometry, F, Format, geometry, H, headerMismatch, Hot, I, Item, keyEquals, Offset, State, writeHeader } from './cache/layout.js';
import { endWrite, mutate, Read, readOptimistic } from './cache/seqlock.js';
import type { CacheArea, CacheBytes, CacheOptions, CacheStats } from './cache/types.js';

export { cacheAreaSize } from './cache/layout.js';
export type { CacheArea, CacheBytes, CacheOptions, CacheStats } from './cache/types.js';

/** A process adds its hits/misses to the shared counters at least every this many gets. */
export const COUNT_FLUSH = 1024;

/** Items the sweeper examines per lock hold, so a sweep never stalls the workers for long. */
const SWEEP_BATCH = 1024;

const defaultClock = () => Math.floor(Date.now() / 1000);

/**
 * djb33x as uWSGI computes it (`hash = hash * 33 ^ key[i]` over a C `char`, signed on x86), so
 * keys land in the same buckets as in uWSGI. Returns an unsigned 32-bit integer.
 */
export function djb33x(bytes: Uint8Array, length: number = bytes.length): number {
  let hash = 5381;
  for (let i = 0; i < length; i++) hash = Math.imul(hash, 33) ^ ((bytes[i]! << 24) >> 24);
  return hash >>> 0;
}

function argumentError(message: string): never {
  throw tsgiError('TSGI_ERR_API_ARGUMENT', message);
}

function asBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
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
    cache.#rebuildFreeStack();
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
      this.#remove(index);
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
      this.#rebuildFreeStack();
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
            this.#remove(i);
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

  /**
   * Item index of the key, or −1. With lazyExpire (unless `lazy` is false, as during a repair,
   * when the free stack cannot be trusted yet) an expired item is deleted and reported missing.
   */
  #find(key: Buffer, keylen: number, hash: number, lazy: boolean = this.#lazy): number {
    const m = this.#m;
    const i32 = m.i32;
    let link = i32[m.bucketsW + (hash % m.buckets)]!;
    let rounds = 0;
    while (link !== 0) {
      const index = link - 1;
      const w = m.itemsW + index * Item.WORDS;
      if (i32[w + I.HASH] === (hash | 0) && i32[w + I.KEYLEN] === keylen && keyEquals(m, index, key, keylen)) {
        if (lazy) {
          const expires = m.f64[m.itemsF + index * Item.F64 + I.EXPIRES]!;
          if (expires !== 0 && expires <= this.#clock()) {
            this.#remove(index);
            m.f64[F.SWEPT]!++;
            return -1;
          }
        }
        return index;
      }
      link = i32[w + I.NEXT]!;
      if (++rounds > m.items) {
        // A loop in a chain cannot come from a crash the repair did not see, but should memory
        // ever be damaged, rebuilding the index beats spinning forever under the lock.
        this.repair();
        return this.#find(key, keylen, hash, lazy);
      }
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
      this.#fill(index, keyBytes, keylen, hash, value, vallen, absolute);
      if (existing >= 0) {
        this.#replace(existing, index);
      } else {
        this.#linkHead(index);
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

  /**
   * Rebuilds the index (chains, free stack, count, next sweep time) from the items' state words,
   * then clears the lock's dirty flag. Called with the lock held when {@link SharedLock.acquire}
   * reports that a holder died inside; idempotent, so a repairer dying halfway is repaired again.
   * A live item whose sizes or hash do not add up is dropped; of two live items with one key
   * (an update cut short after publishing) the newer stays.
   */
  repair(): void {
    const m = this.#m;
    mutate(m);
    const i32 = m.i32;
    const f64 = m.f64;
    const bytes = m.bytes;
    bytes.fill(0, Offset.BUCKETS, m.itemsOffset);
    let nextScan = 0;
    for (let index = 0; index < m.items; index++) {
      const w = m.itemsW + index * Item.WORDS;
      i32[w + I.NEXT] = 0;
      i32[w + I.PREV] = 0;
      if (i32[w + I.STATE] !== State.LIVE) {
        i32[w + I.STATE] = State.FREE;
        continue;
      }
      const keylen = i32[w + I.KEYLEN]!;
      const vallen = i32[w + I.VALLEN]!;
      const keyStart = m.keysOffset + index * m.keysize;
      if (keylen < 1 || keylen > m.keysize || vallen < 1 || vallen > m.blocksize ||
          djb33x(bytes.subarray(keyStart, keyStart + keylen)) !== i32[w + I.HASH]! >>> 0) {
        Atomics.store(i32, w + I.STATE, State.FREE);
        continue;
      }
      const key = bytes.subarray(keyStart, keyStart + keylen);
      const twin = this.#find(key, keylen, i32[w + I.HASH]! >>> 0, false);
      if (twin >= 0) {
        const seq = (i: number) => f64[m.itemsF + i * Item.F64 + I.SEQ]!;
        if (seq(twin) > seq(index)) {
          Atomics.store(i32, w + I.STATE, State.FREE);
          continue;
        }
        this.#unlinkOnly(twin);
        Atomics.store(i32, m.itemsW + twin * Item.WORDS + I.STATE, State.FREE);
      }
      this.#linkHead(index);
    }
    this.#rebuildFreeStack();
    for (let index = 0; index < m.items; index++) {
      if (i32[m.itemsW + index * Item.WORDS + I.STATE] !== State.LIVE) continue;
      const expires = f64[m.itemsF + index * Item.F64 + I.EXPIRES]!;
      if (expires !== 0 && (nextScan === 0 || expires < nextScan)) nextScan = expires;
    }
    f64[F.NEXT_SCAN] = nextScan;
    f64[F.REPAIRS]!++;
    this.#lock.repaired();
  }

  /**
   * Checks every invariant of the index against the items (for tests and debugging): returns
   * the problems found, [] when consistent. Takes the lock (repairing first if needed).
   */
  verify(): string[] {
    const problems: string[] = [];
    this.#enter();
    try {
      const m = this.#m;
      const i32 = m.i32;
      const seen = new Set<number>();
      const keys = new Set<string>();
      for (let b = 0; b < m.buckets; b++) {
        let link = i32[m.bucketsW + b]!;
        let prev = 0;
        while (link !== 0) {
          const index = link - 1;
          if (index < 0 || index >= m.items) { problems.push(`bucket ${b}: link ${link} out of range`); break; }
          if (seen.has(index)) { problems.push(`item ${index} linked twice`); break; }
          seen.add(index);
          const w = m.itemsW + index * Item.WORDS;
          if (i32[w + I.STATE] !== State.LIVE) problems.push(`item ${index} in bucket ${b} is not live`);
          if (i32[w + I.PREV] !== prev) problems.push(`item ${index}: prev ${i32[w + I.PREV]} ≠ ${prev}`);
          if (this.#bucketOf(index) !== m.bucketsW + b) problems.push(`item ${index} is in bucket ${b}, its hash says otherwise`);
          const keyStart = m.keysOffset + index * m.keysize;
          const key = m.bytes.toString('latin1', keyStart, keyStart + i32[w + I.KEYLEN]!);
          if (keys.has(key)) problems.push(`key ${JSON.stringify(key)} is live twice`);
          keys.add(key);
          prev = link;
          link = i32[w + I.NEXT]!;
        }
      }
      let live = 0;
      for (let index = 0; index < m.items; index++) {
        if (i32[m.itemsW + index * Item.WORDS + I.STATE] === State.LIVE) {
          live++;
          if (!seen.has(index)) problems.push(`live item ${index} is in no chain`);
        }
      }
      if (live !== i32[H.COUNT]) problems.push(`count ${i32[H.COUNT]} ≠ ${live} live items`);
      if (live > m.items - 1) problems.push(`${live} live items > capacity ${m.items - 1}`);
      const top = i32[H.FREE_TOP]!;
      if (top !== m.items - live) problems.push(`free stack holds ${top}, expected ${m.items - live}`);
      const free = new Set<number>();
      for (let k = 0; k < Math.min(top, m.items); k++) {
        const index = i32[m.freeW + k]!;
        if (free.has(index)) problems.push(`item ${index} is free twice`);
        free.add(index);
        if (i32[m.itemsW + index * Item.WORDS + I.STATE] === State.LIVE) problems.push(`live item ${index} is on the free stack`);
      }
      // (Odd is right while this very call is repairing: #leave evens it.)
      if ((Atomics.load(m.seq, 0) & 1) !== 0 && !m.writing) problems.push('the sequence number is odd outside a write');
    } finally {
      this.#leave();
    }
    return problems;
  }

  /** Writes a whole item into free item `index`, then publishes it (state LIVE, new seq). */
  #fill(index: number, key: Buffer, keylen: number, hash: number, value: CacheBytes, vallen: number, expires: number): void {
    const m = this.#m;
    mutate(m);
    const bytes = m.bytes;
    key.copy(bytes, m.keysOffset + index * m.keysize, 0, keylen);
    const valueStart = m.valuesOffset + index * m.blocksize;
    if (typeof value === 'string') bytes.write(value, valueStart, vallen, 'utf8');
    else asBuffer(value).copy(bytes, valueStart, 0, vallen);
    const i32 = m.i32;
    const w = m.itemsW + index * Item.WORDS;
    i32[w + I.HASH] = hash | 0;
    i32[w + I.KEYLEN] = keylen;
    i32[w + I.VALLEN] = vallen;
    i32[w + I.NEXT] = 0;
    i32[w + I.PREV] = 0;
    const f = m.itemsF + index * Item.F64;
    m.f64[f + I.EXPIRES] = expires;
    m.f64[f + I.SEQ] = ++m.f64[F.SEQ]!;
    Atomics.store(i32, w + I.STATE, State.LIVE); // the publication: everything above is in place
  }

  #bucketOf(index: number): number {
    const m = this.#m;
    return m.bucketsW + ((m.i32[m.itemsW + index * Item.WORDS + I.HASH]! >>> 0) % m.buckets);
  }

  #linkHead(index: number): void {
    const m = this.#m;
    mutate(m);
    const i32 = m.i32;
    const bucket = this.#bucketOf(index);
    const head = i32[bucket]!;
    const w = m.itemsW + index * Item.WORDS;
    i32[w + I.NEXT] = head;
    i32[w + I.PREV] = 0;
    if (head !== 0) i32[m.itemsW + (head - 1) * Item.WORDS + I.PREV] = index + 1;
    i32[bucket] = index + 1;
  }

  /** Puts item `fresh` where `old` is in its chain, then frees `old`. */
  #replace(old: number, fresh: number): void {
    const m = this.#m;
    mutate(m);
    const i32 = m.i32;
    const wo = m.itemsW + old * Item.WORDS;
    const wf = m.itemsW + fresh * Item.WORDS;
    const prev = i32[wo + I.PREV]!;
    const next = i32[wo + I.NEXT]!;
    i32[wf + I.PREV] = prev;
    i32[wf + I.NEXT] = next;
    if (prev !== 0) i32[m.itemsW + (prev - 1) * Item.WORDS + I.NEXT] = fresh + 1;
    else i32[this.#bucketOf(old)] = fresh + 1;
    if (next !== 0) i32[m.itemsW + (next - 1) * Item.WORDS + I.PREV] = fresh + 1;
    Atomics.store(i32, wo + I.STATE, State.FREE);
    i32[wo + I.NEXT] = 0;
    i32[wo + I.PREV] = 0;
    this.#pushFree(old);
  }

  /** Un-publishes item `index` (state FREE first: that is the deletion), unlinks and frees it. */
  #remove(index: number): void {
    const m = this.#m;
    mutate(m);
    const i32 = m.i32;
    const w = m.itemsW + index * Item.WORDS;
    Atomics.store(i32, w + I.STATE, State.FREE);
    this.#unlinkOnly(index);
    this.#pushFree(index);
    i32[H.COUNT]!--;
  }

  #pushFree(index: number): void {
    const m = this.#m;
    const top = m.i32[H.FREE_TOP]!;
    m.i32[m.freeW + top] = index;
    m.i32[H.FREE_TOP] = top + 1;
  }

  /** Free stack = every non-live item (item 0 on top), count = live items. */
  #rebuildFreeStack(): void {
    const m = this.#m;
    const i32 = m.i32;
    let top = 0;
    let live = 0;
    for (let i = m.items - 1; i >= 0; i--) {
      if (i32[m.itemsW + i * Item.WORDS + I.STATE] === State.LIVE) live++;
      else i32[m.freeW + top++] = i;
    }
    i32[H.FREE_TOP] = top;
    i32[H.COUNT] = live;
  }

  #unlinkOnly(index: number): void {
    const m = this.#m;
    const i32 = m.i32;
    const w = m.itemsW + index * Item.WORDS;
    const prev = i32[w + I.PREV]!;
    const next = i32[w + I.NEXT]!;
    if (prev !== 0) i32[m.itemsW + (prev - 1) * Item.WORDS + I.NEXT] = next;
    else i32[this.#bucketOf(index)] = next;
    if (next !== 0) i32[m.itemsW + (next - 1) * Item.WORDS + I.PREV] = prev;
    i32[w + I.NEXT] = 0;
    i32[w + I.PREV] = 0;
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

/** Reads the geometry a store file was written with, from its first bytes; undefined if it is not a cache file. */
function readStoreHeader(path: string): { items: number; blocksize: number; keysize: number; buckets: number } | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(LOCK_BYTES + 32);
    if (readSync(fd, head, 0, head.length, 0) < head.length) return undefined;
    const word = (i: number) => head.readInt32LE(i * 4);
    if (word(H.MAGIC) !== Format.MAGIC || word(H.VERSION) !== Format.VERSION) return undefined;
    return { items: word(H.ITEMS), blocksize: word(H.BLOCKSIZE), keysize: word(H.KEYSIZE), buckets: word(H.BUCKETS) };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function storeError(path: string, options: CacheOptions, detail: string, cause?: unknown): never {
  const g = geometry(options);
  throw tsgiError('TSGI_ERR_CACHE_STORE', `--cache-store ${path}: ${detail}; this instance has ${describeGeometry(g)}: start tsgi with the options the file was made with, or move the file away to start with an empty cache`, cause === undefined ? undefined : { cause });
}

function mapStore(path: string, options: CacheOptions): ArrayBuffer {
  const size = cacheAreaSize(options);
  let fd: number;
  try {
    fd = native.shmOpenFile(path, size);
  } catch (cause) {
    const error = cause as NativeSystemError;
    if (error.code === 'EINVAL') {
      const found = readStoreHeader(path);
      storeError(path, options, found ? `the file was written with ${describeGeometry(found)}` : `${error.message.replace(/^shmOpenFile \S+: /, '')}, and is not a tsgi cache store`, cause);
    }
    throw tsgiError('TSGI_ERR_CACHE_STORE', `--cache-store ${path}: ${error.message}`, { cause });
  }
  try {
    return native.shmMap(fd, size);
  } catch (cause) {
    throw tsgiError('TSGI_ERR_CACHE_STORE', `--cache-store ${path}: ${(cause as Error).message}`, { cause });
  } finally {
    native.close(fd);
  }
}

/**
 * Master, at startup: opens (or creates) the `--cache-store` file and returns the cache in it.
 * A new file is formatted; an existing one must have been written with the same items,
 * blocksize, keysize and buckets (else TSGI_ERR_CACHE_STORE naming both). The previous run's
 * lock word is discarded (its pid is meaningless now) and the index is rebuilt from the items,
 * since that run may have been killed in the middle of a write. Workers then use
 * {@link attachCacheStore} on the same path.
 */
export function openCacheStore(path: string, options: CacheOptions): SharedCache {
  const buffer = mapStore(path, options);
  const area = { buffer, byteOffset: 0, byteLength: buffer.byteLength };
  const head = new Int32Array(buffer, 0, LOCK_BYTES / 4 + 8);
  if (head.every((word) => word === 0)) return SharedCache.format(area, options);
  const found = readStoreHeader(path);
  const wanted = geometry(options);
  if (found === undefined) storeError(path, options, 'the file is not a tsgi cache store (no TSGC header of this version)');
  if (found.items !== wanted.items || found.blocksize !== wanted.blocksize || found.keysize !== wanted.keysize || found.buckets !== wanted.buckets) {
    storeError(path, options, `the file was written with ${describeGeometry(found)}`);
  }
  const cache = SharedCache.attach(area, options);
  cache.lock.reset(); // flags it dirty: the next operation (this one) rebuilds the index
  cache.verify();
  return cache;
}

/** Worker: maps the `--cache-store` file the master opened with {@link openCacheStore}. */
export function attachCacheStore(path: string, options: CacheOptions): SharedCache {
  const buffer = mapStore(path, options);
  try {
    return SharedCache.attach({ buffer, byteOffset: 0, byteLength: buffer.byteLength }, options);
  } catch (cause) {
    throw tsgiError('TSGI_ERR_CACHE_STORE', `--cache-store ${path}: ${(cause as Error).message}`, { cause });
  }
}
