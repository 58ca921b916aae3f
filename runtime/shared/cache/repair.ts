/**
 * Crash repair: rebuilding the index (hash-index.ts) from the items' state words, and checking
 * it against them.
 *
 * When a lock holder dies, the lock is stolen and flagged dirty, and the next holder rebuilds
 * the index from the state words ({@link repair}): of two live copies of a key (an update cut
 * short) the newer wins. So a crash leaves each key with its old or its new value, never a torn
 * one.
 */
import type { SharedLock } from '../lock.js';
import { F, H, I, Item, Offset, State, type CacheMemory } from './layout.js';
import { bucketOf, djb33x, findItem, Found, linkHead, rebuildFreeStack, unlinkOnly } from './hash-index.js';
import { mutate } from './seqlock.js';

/**
 * Rebuilds the index (chains, free stack, count, next sweep time) from the items' state words,
 * then clears the lock's dirty flag. Called with the lock held when {@link SharedLock.acquire}
 * reports that a holder died inside; idempotent, so a repairer dying halfway is repaired again.
 * A live item whose sizes or hash do not add up is dropped; of two live items with one key
 * (an update cut short after publishing) the newer stays.
 */
export function repair(m: CacheMemory, lock: SharedLock): void {
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
    const twin = findTwin(m, lock, key, keylen, i32[w + I.HASH]! >>> 0);
    if (twin >= 0) {
      const seq = (i: number) => f64[m.itemsF + i * Item.F64 + I.SEQ]!;
      if (seq(twin) > seq(index)) {
        Atomics.store(i32, w + I.STATE, State.FREE);
        continue;
      }
      unlinkOnly(m, twin);
      Atomics.store(i32, m.itemsW + twin * Item.WORDS + I.STATE, State.FREE);
    }
    linkHead(m, index);
  }
  rebuildFreeStack(m);
  for (let index = 0; index < m.items; index++) {
    if (i32[m.itemsW + index * Item.WORDS + I.STATE] !== State.LIVE) continue;
    const expires = f64[m.itemsF + index * Item.F64 + I.EXPIRES]!;
    if (expires !== 0 && (nextScan === 0 || expires < nextScan)) nextScan = expires;
  }
  f64[F.NEXT_SCAN] = nextScan;
  f64[F.REPAIRS]!++;
  lock.repaired();
}

/** The item already relinked with this key, or −1; on a looping chain, repairs and looks again (as SharedCache's find does). */
function findTwin(m: CacheMemory, lock: SharedLock, key: Buffer, keylen: number, hash: number): number {
  const index = findItem(m, key, keylen, hash);
  if (index !== Found.LOOPED) return index;
  repair(m, lock);
  return findTwin(m, lock, key, keylen, hash);
}

/**
 * Every invariant of the index against the items (for SharedCache.verify, which holds the
 * lock): the problems found, [] when consistent.
 */
export function checkIndex(m: CacheMemory): string[] {
  const problems: string[] = [];
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
      if (bucketOf(m, index) !== m.bucketsW + b) problems.push(`item ${index} is in bucket ${b}, its hash says otherwise`);
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
  // (Odd is right while this very call is repairing: SharedCache's leave evens it.)
  if ((Atomics.load(m.seq, 0) & 1) !== 0 && !m.writing) problems.push('the sequence number is odd outside a write');
  return problems;
}
