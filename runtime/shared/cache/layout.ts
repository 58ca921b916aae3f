/**
 * Where everything of a cache is in its area, and this process's typed views of it.
 *
 * Area layout (offsets from the start of the area, which must be 8-byte aligned):
 *
 *   0        lock (16 bytes, lock.ts), then in the same cache line what every operation
 *            writes, so that a write moves as few cache lines between cores as possible:
 *            16 f64 hits, 24 f64 misses, 32 i32 sequence number of the optimistic readers,
 *            36 i32 free-stack top, 40 i32 live count, 48 f64 publication counter
 *   64       header: i32 magic 'TSGC', version, items, blocksize, keysize, buckets;
 *            at 112 f64 counters: full, tooBig, keyTooLong, (spare), swept, repairs,
 *            nextScan (earliest expiry, to skip idle sweeps)
 *   256      buckets: u32 × buckets (item index + 1, 0 = empty)
 *   …        items: 48 bytes each: i32 state, hash, keylen, vallen, next, prev (index + 1),
 *            2 spare, f64 expires (absolute s, 0 = never), f64 publication number
 *   …        free stack: u32 × items
 *   …        keys: items × keysize (64-byte aligned)
 *   …        values: items × blocksize (64-byte aligned)
 *
 * The offsets are `const enum`s rather than constants because the cache's other files use
 * them on every operation: tsc writes an enum member as a literal, while V8 (Node 20) loads an
 * imported `const` from its module cell at each use, which costs the item and chain loops more
 * than twice their time.
 */
import { constants as bufferConstants } from 'node:buffer';
import { tsgiError } from '../../errors.js';
import { LOCK_SPARE_OFFSET } from '../lock.js';
import type { CacheArea, CacheOptions } from './types.js';

/** What the header's first two words hold in an area formatted by this version. */
export const enum Format {
  MAGIC = 0x43475354, // 'TSGC'
  VERSION = 1,
}

/** An item's state word. */
export const enum State {
  FREE = 0,
  LIVE = 1,
}

/** The header, as indexes into the Int32Array view of the area. */
export const enum H {
  MAGIC = 16,
  VERSION = 17,
  ITEMS = 18,
  BLOCKSIZE = 19,
  KEYSIZE = 20,
  BUCKETS = 21,
  // Written by every set/update/del, so they live in the lock's cache line (see Hot below).
  FREE_TOP = 9,
  COUNT = 10,
}

/** The header, as indexes into the Float64Array view of the area. */
export const enum F {
  SEQ = 6, // in the lock's cache line too
  FULL = 14,
  TOO_BIG = 15,
  KEY_TOO_LONG = 16,
  SWEPT = 18,
  REPAIRS = 19,
  NEXT_SCAN = 20,
}

export const enum Offset {
  BUCKETS = 256,
}

/**
 * The counters every get bumps live in the lock's own cache line (lock.ts: LOCK_SPARE_OFFSET),
 * which the holder owns already: elsewhere they would drag one more line between the cores.
 * Indexes into the Float64Array at LOCK_SPARE_OFFSET. At LOCK_SPARE_OFFSET + 16: i32 sequence
 * number for optimistic readers (odd while a write is under way). In the lock line too: writers
 * own it anyway.
 */
export const enum Hot {
  HITS = 0,
  MISSES = 1,
}

/** Items: their size, in bytes, i32 words and f64 words. */
export const enum Item {
  BYTES = 48,
  WORDS = BYTES / 4,
  F64 = BYTES / 8,
}

/** An item's fields: STATE…PREV are i32 indexes inside the item, EXPIRES and SEQ f64 indexes. */
export const enum I {
  STATE = 0,
  HASH = 1,
  KEYLEN = 2,
  VALLEN = 3,
  NEXT = 4,
  PREV = 5,
  EXPIRES = 4, // f64 index inside the item
  SEQ = 5,
}

const align = (value: number, to: number) => Math.ceil(value / to) * to;

export interface Geometry {
  items: number;
  blocksize: number;
  keysize: number;
  buckets: number;
  itemsOffset: number;
  freeOffset: number;
  keysOffset: number;
  valuesOffset: number;
  size: number;
}

function optionError(message: string): never {
  throw tsgiError('TSGI_ERR_OPT_VALUE', message);
}

export function geometry(options: CacheOptions): Geometry {
  const items = options.items;
  const blocksize = options.blocksize ?? 65536;
  const keysize = options.keysize ?? 2048;
  const buckets = options.buckets ?? 65536;
  const name = options.name ?? 'default';
  const positive = (value: number, what: string, max: number) => {
    if (!Number.isSafeInteger(value) || value < 1 || value > max) optionError(`cache "${name}": ${what} must be an integer in 1..${max}, got ${value}`);
  };
  positive(items, '--cache (items)', 2 ** 31 - 1);
  positive(blocksize, '--cache-blocksize', 2 ** 31 - 1);
  positive(keysize, 'keysize', 65535);
  positive(buckets, 'buckets (hashsize)', 2 ** 28);
  const itemsOffset = align(Offset.BUCKETS + 4 * buckets, 8);
  const freeOffset = itemsOffset + Item.BYTES * items;
  const keysOffset = align(freeOffset + 4 * items, 64);
  const valuesOffset = align(keysOffset + items * keysize, 64);
  const size = align(valuesOffset + items * blocksize, 8);
  if (size > bufferConstants.MAX_LENGTH) {
    optionError(`cache "${name}": ${items} items × (${blocksize} + ${keysize}) bytes is ${size} bytes, more than one process can address as a buffer (${bufferConstants.MAX_LENGTH}); lower --cache or --cache-blocksize`);
  }
  return { items, blocksize, keysize, buckets, itemsOffset, freeOffset, keysOffset, valuesOffset, size };
}

/** Bytes the cache area takes for `options` (for the region layout or the store file). */
export function cacheAreaSize(options: CacheOptions): number {
  return geometry(options).size;
}

export function describeGeometry(g: { items: number; blocksize: number; keysize: number; buckets: number }): string {
  return `--cache ${g.items} --cache-blocksize ${g.blocksize} (keysize ${g.keysize}, ${g.buckets} buckets)`;
}

/**
 * This process's views of one cache area, with its geometry and the word offsets derived from
 * it: what the functions of cache/ take, so that SharedCache's code can live in several files.
 * One per SharedCache, made by its constructor; every field is set there (one hidden class).
 */
export class CacheMemory implements Geometry {
  readonly items: number;
  readonly blocksize: number;
  readonly keysize: number;
  readonly buckets: number;
  readonly itemsOffset: number;
  readonly freeOffset: number;
  readonly keysOffset: number;
  readonly valuesOffset: number;
  readonly size: number;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  /** The hit and miss counters (Hot). */
  readonly hot: Float64Array;
  /** The optimistic readers' sequence number (seqlock.ts). */
  readonly seq: Int32Array;
  readonly bytes: Buffer;
  /** Where the items, the free stack and the buckets start, in i32 (or f64) words. */
  readonly itemsW: number;
  readonly itemsF: number;
  readonly freeW: number;
  readonly bucketsW: number;
  /** This process holds the lock and has made the sequence number odd (seqlock.ts: mutate). */
  writing = false;

  constructor(area: CacheArea, g: Geometry) {
    this.items = g.items;
    this.blocksize = g.blocksize;
    this.keysize = g.keysize;
    this.buckets = g.buckets;
    this.itemsOffset = g.itemsOffset;
    this.freeOffset = g.freeOffset;
    this.keysOffset = g.keysOffset;
    this.valuesOffset = g.valuesOffset;
    this.size = g.size;
    this.i32 = new Int32Array(area.buffer, area.byteOffset, g.keysOffset / 4);
    this.f64 = new Float64Array(area.buffer, area.byteOffset, g.keysOffset / 8);
    this.hot = new Float64Array(area.buffer, area.byteOffset + LOCK_SPARE_OFFSET, 2);
    this.seq = new Int32Array(area.buffer, area.byteOffset + LOCK_SPARE_OFFSET + 16, 1);
    this.bytes = Buffer.from(area.buffer, area.byteOffset, g.size);
    this.itemsW = g.itemsOffset / 4;
    this.itemsF = g.itemsOffset / 8;
    this.freeW = g.freeOffset / 4;
    this.bucketsW = Offset.BUCKETS / 4;
  }
}

/** Writes the header of a new cache (after its index words were zeroed). */
export function writeHeader(m: CacheMemory): void {
  const i32 = m.i32;
  i32[H.MAGIC] = Format.MAGIC;
  i32[H.VERSION] = Format.VERSION;
  i32[H.ITEMS] = m.items;
  i32[H.BLOCKSIZE] = m.blocksize;
  i32[H.KEYSIZE] = m.keysize;
  i32[H.BUCKETS] = m.buckets;
}

/** undefined when the header describes this geometry, else what it describes. */
export function headerMismatch(m: CacheMemory): string | undefined {
  const i32 = m.i32;
  if (i32[H.MAGIC] !== Format.MAGIC || i32[H.VERSION] !== Format.VERSION) return 'no tsgi cache of this version';
  const found = { items: i32[H.ITEMS]!, blocksize: i32[H.BLOCKSIZE]!, keysize: i32[H.KEYSIZE]!, buckets: i32[H.BUCKETS]! };
  if (found.items === m.items && found.blocksize === m.blocksize && found.keysize === m.keysize && found.buckets === m.buckets) return undefined;
  return describeGeometry(found);
}

/** Whether item `index`'s key is the first `keylen` bytes of `key` (the lengths are known equal). */
export function keyEquals(m: CacheMemory, index: number, key: Buffer, keylen: number): boolean {
  const start = m.keysOffset + index * m.keysize;
  const bytes = m.bytes;
  if (keylen <= 32) {
    for (let i = 0; i < keylen; i++) if (bytes[start + i] !== key[i]) return false;
    return true;
  }
  return key.compare(bytes, start, start + keylen, 0, keylen) === 0;
}
