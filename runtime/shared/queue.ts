/**
 * uWSGI's queue (uWSGI's `core/queue.c`) in shared memory: `--queue N` slots of
 * `--queue-blocksize` bytes (8192), every worker reading and writing them in place under a
 * {@link SharedLock}.
 *
 * The semantics are uWSGI's, including its surprises: each slot starts with a 16-byte item
 * header (size, timestamp), so a message holds at most blocksize − 16 bytes; the area is
 * circular and overwriting, with no "full" check; `pos` is the push/pop pointer and `pull_pos`
 * the pull pointer; `pop` is LIFO (it moves `pos` back, wrapping to N−1, even when the slot it
 * lands on is empty), `pull` is FIFO (it advances only past a non-empty slot); `get`/`last`
 * never remove; `set` leaves both pointers alone. Mixing pop with pull is undefined, as there.
 * (uWSGI 2.0 checks `size > blocksize + 16` in push/set, which lets a message overrun into the
 * next slot; the spec's limit, blocksize − 16, is the one enforced here.)
 *
 * Crash safety: a write first empties the slot (size 0), then copies the message and its
 * timestamp, and stores the size last, so a writer killed midway leaves an empty slot, never a
 * torn message. After a dead holder's lock is stolen, {@link SharedQueue.repair} only clamps
 * the pointers and empties slots whose size cannot be right.
 *
 * Area layout: 0 lock (64 bytes); 64 header: u32 magic 'TSGQ', version, slots, blocksize,
 * f64 pos (at 80), f64 pull_pos (at 88); 128 the slots, `blocksize` bytes each: f64 size,
 * f64 timestamp (seconds), data.
 */
import { tsgiError } from '../errors.js';
import { SharedLock } from './lock.js';

export interface QueueArea {
  readonly buffer: ArrayBuffer;
  readonly byteOffset: number;
  readonly byteLength: number;
}

export interface QueueOptions {
  /** `--queue N`: slots. */
  slots: number;
  /** `--queue-blocksize`: bytes per slot, the 16-byte item header included. Default 8192. */
  blocksize?: number;
  /** Current time in whole seconds, for the item timestamp. Default `Math.floor(Date.now() / 1000)`. */
  clock?: () => number;
}

/** Messages: bytes, or strings stored as UTF-8. */
export type QueueBytes = string | Uint8Array;

const MAGIC = 0x51475354; // 'TSGQ'
const VERSION = 1;
const ITEM_HEADER = 16;
const SLOTS_OFFSET = 128;
/** uWSGI refuses a queue whose size is not a multiple of the page size (it mmaps it). */
const PAGE_SIZE = 4096;
// Header indexes in the Int32Array / Float64Array views.
const H_MAGIC = 16;
const H_VERSION = 17;
const H_SLOTS = 18;
const H_BLOCKSIZE = 19;
const F_POS = 10;
const F_PULL_POS = 11;

function geometry(options: QueueOptions): { slots: number; blocksize: number; size: number } {
  const { slots } = options;
  const blocksize = options.blocksize ?? 8192;
  if (!Number.isSafeInteger(slots) || slots < 1 || slots > 2 ** 31 - 1) {
    throw tsgiError('TSGI_ERR_OPT_VALUE', `--queue must be an integer ≥ 1, got ${slots}`);
  }
  if (!Number.isSafeInteger(blocksize) || blocksize <= ITEM_HEADER || blocksize > 2 ** 31 - 1) {
    throw tsgiError('TSGI_ERR_OPT_VALUE', `--queue-blocksize must be an integer > ${ITEM_HEADER} (the item header), got ${blocksize}`);
  }
  if ((slots * blocksize) % PAGE_SIZE !== 0) {
    throw tsgiError('TSGI_ERR_OPT_VALUE', `invalid queue size/blocksize: --queue ${slots} × --queue-blocksize ${blocksize} = ${slots * blocksize} bytes must be a multiple of the memory page size (${PAGE_SIZE} bytes)`);
  }
  return { slots, blocksize, size: SLOTS_OFFSET + slots * blocksize };
}

/** Bytes the queue area takes for `options` (for the region layout). */
export function queueAreaSize(options: QueueOptions): number {
  return geometry(options).size;
}

const defaultClock = () => Math.floor(Date.now() / 1000);

function argumentError(message: string): never {
  throw tsgiError('TSGI_ERR_API_ARGUMENT', message);
}

export class SharedQueue {
  readonly #lock: SharedLock;
  readonly #i32: Int32Array;
  readonly #f64: Float64Array;
  readonly #view: DataView;
  readonly #bytes: Buffer;
  readonly #scratch: Buffer;
  readonly #slots: number;
  readonly #blocksize: number;
  readonly #clock: () => number;

  private constructor(area: QueueArea, options: QueueOptions) {
    const g = geometry(options);
    if (area.byteLength < g.size || area.byteOffset % 8 !== 0) {
      throw tsgiError('TSGI_ERR_SHM', `the queue needs ${g.size} bytes at an 8-byte aligned offset, the area has ${area.byteLength} at ${area.byteOffset}`);
    }
    this.#lock = new SharedLock(area.buffer, area.byteOffset);
    this.#i32 = new Int32Array(area.buffer, area.byteOffset, SLOTS_OFFSET / 4);
    this.#f64 = new Float64Array(area.buffer, area.byteOffset, SLOTS_OFFSET / 8);
    this.#view = new DataView(area.buffer, area.byteOffset, g.size);
    this.#bytes = Buffer.from(area.buffer, area.byteOffset, g.size);
    this.#scratch = Buffer.allocUnsafeSlow(g.blocksize);
    this.#slots = g.slots;
    this.#blocksize = g.blocksize;
    this.#clock = options.clock ?? defaultClock;
  }

  /** Master: formats an empty queue in `area` (both pointers at 0, every slot empty). */
  static format(area: QueueArea, options: QueueOptions): SharedQueue {
    const queue = new SharedQueue(area, options);
    queue.#bytes.fill(0);
    queue.#i32[H_MAGIC] = MAGIC;
    queue.#i32[H_VERSION] = VERSION;
    queue.#i32[H_SLOTS] = queue.#slots;
    queue.#i32[H_BLOCKSIZE] = queue.#blocksize;
    return queue;
  }

  /** Worker: a handle on the queue the master formatted in `area`; the header must match `options`. */
  static attach(area: QueueArea, options: QueueOptions): SharedQueue {
    const queue = new SharedQueue(area, options);
    const i32 = queue.#i32;
    if (i32[H_MAGIC] !== MAGIC || i32[H_VERSION] !== VERSION || i32[H_SLOTS] !== queue.#slots || i32[H_BLOCKSIZE] !== queue.#blocksize) {
      throw tsgiError('TSGI_ERR_SHM', `the shared queue area holds ${i32[H_MAGIC] === MAGIC ? `--queue ${i32[H_SLOTS]} --queue-blocksize ${i32[H_BLOCKSIZE]}` : 'no tsgi queue'}, this process expects --queue ${queue.#slots} --queue-blocksize ${queue.#blocksize}`);
    }
    return queue;
  }

  /** `--queue`: number of slots (uWSGI's `queue_size`). */
  get size(): number {
    return this.#slots;
  }

  /** The longest message: blocksize − 16. */
  get maxMessage(): number {
    return this.#blocksize - ITEM_HEADER;
  }

  /** The lock guarding this queue (for the master's reap, and for tests). */
  get lock(): SharedLock {
    return this.#lock;
  }

  /** `queue_push`: writes at `pos` (overwriting), advances `pos`. False when empty or too big. */
  push(message: QueueBytes): boolean {
    const length = this.#length(message);
    if (length === 0 || length > this.maxMessage) return false;
    this.#enter();
    try {
      const pos = this.#f64[F_POS]!;
      this.#write(pos, message, length);
      this.#f64[F_POS] = pos + 1 >= this.#slots ? 0 : pos + 1;
      return true;
    } finally {
      this.#lock.release();
    }
  }

  /** `queue_pop` (LIFO): moves `pos` back (wrapping), then takes that slot's message, or null if empty. */
  pop(): Buffer | null {
    let size: number;
    this.#enter();
    try {
      const pos = this.#f64[F_POS]!;
      const back = pos === 0 ? this.#slots - 1 : pos - 1;
      this.#f64[F_POS] = back;
      size = this.#stage(back);
      if (size >= 0) this.#setSize(back, 0);
    } finally {
      this.#lock.release();
    }
    return this.#unstage(size);
  }

  /** `queue_pull` (FIFO): takes the message at `pull_pos` and advances it; null (and no move) if empty. */
  pull(): Buffer | null {
    let size: number;
    this.#enter();
    try {
      const at = this.#f64[F_PULL_POS]!;
      size = this.#stage(at);
      if (size >= 0) {
        this.#f64[F_PULL_POS] = at + 1 >= this.#slots ? 0 : at + 1;
        this.#setSize(at, 0);
      }
    } finally {
      this.#lock.release();
    }
    return this.#unstage(size);
  }

  /** `queue_get(i)`: slot i's message without removing it; null if empty or out of range (negative included). */
  get(index: number): Buffer | null {
    this.#checkIndex(index, 'queue_get');
    if (index < 0 || index >= this.#slots) return null;
    let size: number;
    this.#enter();
    try {
      size = this.#stage(index);
    } finally {
      this.#lock.release();
    }
    return this.#unstage(size);
  }

  /** `queue_set(i, msg)`: writes slot i, pointers untouched. False when empty, too big or out of range. */
  set(index: number, message: QueueBytes): boolean {
    this.#checkIndex(index, 'queue_set');
    const length = this.#length(message);
    if (length === 0 || length > this.maxMessage || index < 0 || index >= this.#slots) return false;
    this.#enter();
    try {
      this.#write(index, message, length);
      return true;
    } finally {
      this.#lock.release();
    }
  }

  /**
   * `queue_last(n)`: n = 0 → the newest message (slot pos − 1) or null; n > 0 → a list of
   * min(n, slots) messages walking backwards from pos − 1, null for empty slots. Removes nothing.
   */
  last(): Buffer | null;
  last(count: 0): Buffer | null;
  last(count: number): Buffer | null | Array<Buffer | null>;
  last(count = 0): Buffer | null | Array<Buffer | null> {
    if (!Number.isSafeInteger(count) || count < 0) argumentError(`queue_last expects an integer count ≥ 0, got ${String(count)}`);
    let size = -1;
    const list: Array<Buffer | null> = [];
    this.#enter();
    try {
      const pos = this.#f64[F_POS]!;
      let base = pos > 0 ? pos - 1 : this.#slots - 1;
      if (count === 0) {
        size = this.#stage(base);
      } else {
        // A list holds several messages, so they are copied straight out under the lock.
        for (let n = Math.min(count, this.#slots); n > 0; n--) {
          list.push(this.#read(base));
          base = base > 0 ? base - 1 : this.#slots - 1;
        }
      }
    } finally {
      this.#lock.release();
    }
    return count === 0 ? this.#unstage(size) : list;
  }

  /** `queue_slot()`: the current `pos`. */
  slot(): number {
    return this.#pointer(F_POS);
  }

  /** `queue_pull_slot()`: the current `pull_pos`. */
  pullSlot(): number {
    return this.#pointer(F_PULL_POS);
  }

  /** Messages stored now (non-empty slots): the queue's depth, for the metrics endpoint. */
  depth(): number {
    this.#enter();
    try {
      let stored = 0;
      for (let i = 0; i < this.#slots; i++) if (this.#view.getFloat64(SLOTS_OFFSET + i * this.#blocksize, true) !== 0) stored++;
      return stored;
    } finally {
      this.#lock.release();
    }
  }

  /**
   * After a dead holder's lock was stolen: pointers back into range, and slots whose size
   * cannot be a message emptied. Called with the lock held; clears the dirty flag.
   */
  repair(): void {
    const f64 = this.#f64;
    for (const which of [F_POS, F_PULL_POS]) {
      const value = f64[which]!;
      if (!Number.isInteger(value) || value < 0 || value >= this.#slots) f64[which] = 0;
    }
    for (let i = 0; i < this.#slots; i++) {
      const size = this.#view.getFloat64(SLOTS_OFFSET + i * this.#blocksize, true);
      if (!(Number.isInteger(size) && size >= 0 && size <= this.maxMessage)) this.#setSize(i, 0);
    }
    this.#lock.repaired();
  }

  // ---------------------------------------------------------------------------- internals

  #enter(): void {
    if (this.#lock.acquire()) this.repair();
  }

  #pointer(which: number): number {
    this.#enter();
    try {
      return this.#f64[which]!;
    } finally {
      this.#lock.release();
    }
  }

  #checkIndex(index: number, what: string): void {
    if (typeof index !== 'number' || !Number.isInteger(index)) argumentError(`${what} expects an integer slot, got ${String(index)}`);
  }

  #length(message: QueueBytes): number {
    if (typeof message === 'string') return Buffer.byteLength(message, 'utf8');
    if (message instanceof Uint8Array) return message.length;
    return argumentError(`a queue message must be a string or a Buffer, got ${typeof message}`);
  }

  #setSize(slot: number, size: number): void {
    this.#view.setFloat64(SLOTS_OFFSET + slot * this.#blocksize, size, true);
  }

  /** Empty the slot, copy, stamp, and store the size last: a writer killed midway leaves it empty. */
  #write(slot: number, message: QueueBytes, length: number): void {
    const start = SLOTS_OFFSET + slot * this.#blocksize;
    this.#setSize(slot, 0);
    if (typeof message === 'string') this.#bytes.write(message, start + ITEM_HEADER, length, 'utf8');
    else this.#bytes.set(message, start + ITEM_HEADER);
    this.#view.setFloat64(start + 8, this.#clock(), true);
    this.#setSize(slot, length);
  }

  /** A copy of the slot's message, or null when it is empty. */
  #read(slot: number): Buffer | null {
    const start = SLOTS_OFFSET + slot * this.#blocksize;
    const size = this.#view.getFloat64(start, true);
    if (size === 0) return null;
    const out = Buffer.allocUnsafe(size);
    this.#bytes.copy(out, 0, start + ITEM_HEADER, start + ITEM_HEADER + size);
    return out;
  }

  /**
   * #read for one message, with the Buffer allocated after the lock is released (a big
   * allocation can take tens of microseconds or run the GC; the others should not wait for it).
   * Call with the lock held; returns the length copied into the scratch buffer, or −1 if empty.
   */
  #stage(slot: number): number {
    const start = SLOTS_OFFSET + slot * this.#blocksize;
    const size = this.#view.getFloat64(start, true);
    if (size === 0) return -1;
    this.#bytes.copy(this.#scratch, 0, start + ITEM_HEADER, start + ITEM_HEADER + size);
    return size;
  }

  /** The staged message as a new Buffer (after the lock is released). */
  #unstage(size: number): Buffer | null {
    if (size < 0) return null;
    const out = Buffer.allocUnsafe(size);
    this.#scratch.copy(out, 0, 0, size);
    return out;
  }
}
