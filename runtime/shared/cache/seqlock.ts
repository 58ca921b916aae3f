/**
 * The cache's optimistic reads: a seqlock, both halves.
 *
 * What is ours, for speed: writes (set/update/del/clear/sweep) take the lock; get and exists
 * do not, on x86: they read optimistically under a sequence number that writers make odd while
 * they change anything (a seqlock), and retry or fall back to the lock when it moved. So reads
 * from several workers do not serialise on one cache line.
 *
 * Writers call {@link mutate} (with the lock held) before their first change a reader could see
 * and {@link endWrite} before releasing; readers use {@link readOptimistic}.
 */
import { I, Item, type CacheMemory, keyEquals } from './layout.js';

/**
 * Lock-free get/exists (readOptimistic) rely on x86's total store order: a writer's stores are
 * seen in program order and a reader's loads happen in program order, so a seqlock needs no
 * fences. Elsewhere (ARM's weaker ordering would need a load barrier JS cannot express) every
 * read takes the lock.
 */
const OPTIMISTIC_READS = process.arch === 'x64' || process.arch === 'ia32';
const OPTIMISTIC_ATTEMPTS = 8;
const OPTIMISTIC_WAIT_SPINS = 2000;

/** Results of {@link readOptimistic} besides a value length. */
export const enum Read {
  MISSING = -1,
  RETRY = -2,
}

/**
 * Called (with the lock held) before the first change a reader could see: makes the sequence
 * number odd, so optimistic readers retry or take the lock. Left odd by a writer that died;
 * repair() keeps it odd until the index is whole again.
 */
export function mutate(m: CacheMemory): void {
  if (m.writing) return;
  m.writing = true;
  const seq = Atomics.load(m.seq, 0);
  if ((seq & 1) === 0) Atomics.store(m.seq, 0, (seq + 1) | 0);
}

/** Ends a write, if this process made one: the sequence number becomes even again, optimistic readers may read. */
export function endWrite(m: CacheMemory): void {
  if (m.writing) {
    m.writing = false;
    Atomics.store(m.seq, 0, (Atomics.load(m.seq, 0) + 1) | 0);
  }
}

/**
 * get/exists without the lock (x86 only, see OPTIMISTIC_READS; elsewhere always RETRY): a
 * seqlock read. Writers make the sequence number odd before their first visible change and
 * even after the last; a reader that saw the same even number before and after walking the
 * chain and copying the value (into `scratch`, when `copy`) has a consistent copy. Everything
 * it reads is bounds-checked, since a racing writer can make links and sizes momentarily
 * meaningless. Returns the value length, Read.MISSING, or Read.RETRY when the locked path
 * must decide (busy writers, a dead writer's odd number, an expired item under `lazy`).
 */
export function readOptimistic(m: CacheMemory, key: Buffer, keylen: number, hash: number, copy: boolean, scratch: Buffer, lazy: boolean, clock: () => number): number {
  if (!OPTIMISTIC_READS) return Read.RETRY;
  const seq = m.seq;
  const i32 = m.i32;
  for (let attempt = 0, waits = 0; attempt < OPTIMISTIC_ATTEMPTS;) {
    const before = Atomics.load(seq, 0);
    if ((before & 1) !== 0) {
      // A write is under way (they take a microsecond or so): wait for it rather than queue
      // on the lock behind it. A writer that died leaves the number odd: the lock then decides.
      if (++waits > OPTIMISTIC_WAIT_SPINS) return Read.RETRY;
      continue;
    }
    attempt++;
    let result: number = Read.MISSING;
    let link = i32[m.bucketsW + (hash % m.buckets)]!;
    for (let rounds = 0; link !== 0; rounds++) {
      if (!(link > 0 && link <= m.items) || rounds > m.items) {
        result = Read.RETRY;
        break;
      }
      const index = link - 1;
      const w = m.itemsW + index * Item.WORDS;
      if (i32[w + I.HASH] === (hash | 0) && i32[w + I.KEYLEN] === keylen && keyEquals(m, index, key, keylen)) {
        const vallen = i32[w + I.VALLEN]!;
        const expires = m.f64[m.itemsF + index * Item.F64 + I.EXPIRES]!;
        if (!(vallen > 0 && vallen <= m.blocksize) || (lazy && expires !== 0 && expires <= clock())) {
          result = Read.RETRY;
        } else {
          if (copy) {
            const start = m.valuesOffset + index * m.blocksize;
            m.bytes.copy(scratch, 0, start, start + vallen);
          }
          result = vallen;
        }
        break;
      }
      link = i32[w + I.NEXT]!;
    }
    if (Atomics.load(seq, 0) === before) return result;
  }
  return Read.RETRY;
}
