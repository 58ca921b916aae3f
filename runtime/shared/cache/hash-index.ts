/**
 * Items, and the index over them: djb33x hash chains from the buckets, the free stack, the
 * live count. Every function here runs with the lock held.
 *
 * What is ours, for crash safety (issue 4: a worker SIGKILLed mid-write must not corrupt the
 * cache): the N slots are N physical items and at most N−1 are live, so one free item always
 * exists. A write never touches a live item's bytes: `update` writes the new value into a free
 * item, publishes it (state word LIVE, with a higher sequence number), swaps it into the hash
 * chain and only then frees the old one ({@link fill}, {@link replace}); `set` publishes before
 * linking ({@link linkHead}); `del` un-publishes (state FREE) before unlinking ({@link remove}).
 * The state words and sequence numbers are the truth, the hash chains, free stack and item
 * count are an index derived from them, which repair.ts rebuilds when a writer died.
 */
import { F, H, I, Item, State, type CacheMemory, keyEquals } from './layout.js';
import { mutate } from './seqlock.js';
import type { CacheBytes } from './types.js';

/**
 * djb33x as uWSGI computes it (`hash = hash * 33 ^ key[i]` over a C `char`, signed on x86), so
 * keys land in the same buckets as in uWSGI. Returns an unsigned 32-bit integer.
 */
export function djb33x(bytes: Uint8Array, length: number = bytes.length): number {
  let hash = 5381;
  for (let i = 0; i < length; i++) hash = Math.imul(hash, 33) ^ ((bytes[i]! << 24) >> 24);
  return hash >>> 0;
}

export function asBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** What {@link findItem} returns besides an item index. */
export const enum Found {
  MISSING = -1,
  /** The chain loops: memory is damaged, the caller rebuilds the index. */
  LOOPED = -2,
}

/** Item index of the key in its chain, Found.MISSING, or Found.LOOPED. */
export function findItem(m: CacheMemory, key: Buffer, keylen: number, hash: number): number {
  const i32 = m.i32;
  let link = i32[m.bucketsW + (hash % m.buckets)]!;
  let rounds = 0;
  while (link !== 0) {
    const index = link - 1;
    const w = m.itemsW + index * Item.WORDS;
    if (i32[w + I.HASH] === (hash | 0) && i32[w + I.KEYLEN] === keylen && keyEquals(m, index, key, keylen)) return index;
    link = i32[w + I.NEXT]!;
    // A loop in a chain cannot come from a crash the repair did not see, but should memory
    // ever be damaged, rebuilding the index beats spinning forever under the lock.
    if (++rounds > m.items) return Found.LOOPED;
  }
  return Found.MISSING;
}

/** Writes a whole item into free item `index`, then publishes it (state LIVE, new seq). */
export function fill(m: CacheMemory, index: number, key: Buffer, keylen: number, hash: number, value: CacheBytes, vallen: number, expires: number): void {
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

export function bucketOf(m: CacheMemory, index: number): number {
  return m.bucketsW + ((m.i32[m.itemsW + index * Item.WORDS + I.HASH]! >>> 0) % m.buckets);
}

export function linkHead(m: CacheMemory, index: number): void {
  mutate(m);
  const i32 = m.i32;
  const bucket = bucketOf(m, index);
  const head = i32[bucket]!;
  const w = m.itemsW + index * Item.WORDS;
  i32[w + I.NEXT] = head;
  i32[w + I.PREV] = 0;
  if (head !== 0) i32[m.itemsW + (head - 1) * Item.WORDS + I.PREV] = index + 1;
  i32[bucket] = index + 1;
}

/** Puts item `fresh` where `old` is in its chain, then frees `old`. */
export function replace(m: CacheMemory, old: number, fresh: number): void {
  mutate(m);
  const i32 = m.i32;
  const wo = m.itemsW + old * Item.WORDS;
  const wf = m.itemsW + fresh * Item.WORDS;
  const prev = i32[wo + I.PREV]!;
  const next = i32[wo + I.NEXT]!;
  i32[wf + I.PREV] = prev;
  i32[wf + I.NEXT] = next;
  if (prev !== 0) i32[m.itemsW + (prev - 1) * Item.WORDS + I.NEXT] = fresh + 1;
  else i32[bucketOf(m, old)] = fresh + 1;
  if (next !== 0) i32[m.itemsW + (next - 1) * Item.WORDS + I.PREV] = fresh + 1;
  Atomics.store(i32, wo + I.STATE, State.FREE);
  i32[wo + I.NEXT] = 0;
  i32[wo + I.PREV] = 0;
  pushFree(m, old);
}

/** Un-publishes item `index` (state FREE first: that is the deletion), unlinks and frees it. */
export function remove(m: CacheMemory, index: number): void {
  mutate(m);
  const i32 = m.i32;
  const w = m.itemsW + index * Item.WORDS;
  Atomics.store(i32, w + I.STATE, State.FREE);
  unlinkOnly(m, index);
  pushFree(m, index);
  i32[H.COUNT]!--;
}

export function unlinkOnly(m: CacheMemory, index: number): void {
  const i32 = m.i32;
  const w = m.itemsW + index * Item.WORDS;
  const prev = i32[w + I.PREV]!;
  const next = i32[w + I.NEXT]!;
  if (prev !== 0) i32[m.itemsW + (prev - 1) * Item.WORDS + I.NEXT] = next;
  else i32[bucketOf(m, index)] = next;
  if (next !== 0) i32[m.itemsW + (next - 1) * Item.WORDS + I.PREV] = prev;
  i32[w + I.NEXT] = 0;
  i32[w + I.PREV] = 0;
}

export function pushFree(m: CacheMemory, index: number): void {
  const top = m.i32[H.FREE_TOP]!;
  m.i32[m.freeW + top] = index;
  m.i32[H.FREE_TOP] = top + 1;
}

/** Free stack = every non-live item (item 0 on top), count = live items. */
export function rebuildFreeStack(m: CacheMemory): void {
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
