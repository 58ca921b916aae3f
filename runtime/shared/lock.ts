/**
 * A mutex shared by processes: one cache line of a shared mapping (see region.ts), used by the
 * cache and the queue, which every worker changes in place.
 *
 * Why a pid in the lock word: issue 4 requires that a worker SIGKILLed while holding a lock does
 * not wedge the others. A plain 0/1 word cannot tell "busy" from "held by a corpse"; a word
 * holding the owner's pid can. Acquire is `compareExchange(0 → myPid)`. A waiter that has spun
 * and then slept a while without progress asks the kernel whether the owner still runs
 * ({@link TsgiNative.pidAlive}, zombies count as dead) and, if not, steals the lock with
 * `compareExchange(deadPid → myPid)`: exactly one of several waiters wins that exchange.
 *
 * Why a dirty flag: the dead owner may have stopped halfway through changing the structure the
 * lock protects. Every steal sets DIRTY before anything else can happen, and {@link
 * SharedLock.acquire} returns true while it is set, so whoever holds the lock next checks and
 * repairs the structure (the cache rebuilds its index, the queue clamps its pointers) and then
 * calls {@link SharedLock.repaired}. The flag lives in shared memory, not in the stealer: if the
 * repairer dies too, the next steal finds it still set.
 *
 * Why a futex: critical sections are a few hundred nanoseconds to a 64 KiB copy, so a waiter
 * first spins; after that it sleeps in FUTEX_WAIT on the owner word (Atomics.wait refuses
 * memory that is not a SharedArrayBuffer) for at most {@link WAIT_MS}, and the releaser wakes
 * one sleeper when the waiter count says there is one. A dead owner never wakes anyone, so the
 * timeout is what bounds recovery: about WAIT_MS after the owner died.
 *
 * Why the thread in the owner word: with `--threads` several worker_threads of one process share
 * the lock, and one of them can die (harakiri terminates it, or it exits) while its process lives
 * on. The owner word is pid + thread × 2^22 (pids stay below 2^22, Linux's PID_MAX_LIMIT; thread 0
 * is a process's main thread, so without threads the word is the plain pid). A waiter checks the
 * liveness of the pid part; the thread's own process sees the thread exit and calls {@link
 * SharedLock.reap} with the thread's owner id (runtime/threads/pool.ts), which repairs the lock
 * as the master's reap repairs a dead process's. A waiter killed while asleep leaves the
 * waiter count one too high, which costs one futexWake syscall per release and nothing else.
 * Pid reuse between an owner's death and the next contention could make a corpse look alive;
 * the master closes that window by calling {@link SharedLock.reap} when it reaps a worker.
 */
import { native } from '../native.js';
import { tsgiError } from '../errors.js';

/** Bytes a lock takes in a region: a whole cache line, shared with nothing but its own spare bytes. */
export const LOCK_BYTES = 64;
/**
 * The lock words use the first 16 bytes. Bytes 16..63 belong to the protected structure: the
 * holder owns that cache line anyway, so counters it bumps on every operation cost nothing
 * there, while anywhere else they would bounce one more line between the cores.
 */
export const LOCK_SPARE_OFFSET = 16;

/** Int32 word indexes inside the lock. */
const OWNER = 0; // pid of the holder, 0 = free
const WAITERS = 1; // processes sleeping in futexWait on OWNER
const DIRTY = 2; // 1 = a holder died inside: the protected structure must be checked
const STEALS = 3; // how many times a dead holder's lock was taken over (statistics)

/** Owner words keep the pid in their low 22 bits and the thread above them. */
const THREAD_SHIFT = 22;
const PID_MASK = (1 << THREAD_SHIFT) - 1;

/** The owner word of `thread` (0: the main thread) of process `pid`. */
export function lockOwnerId(pid: number, thread: number): number {
  return pid + thread * (1 << THREAD_SHIFT);
}

/** The owner id locks made by this thread write, unless a test passes its own. */
let threadOwner = process.pid;

/** Called first thing in a worker_thread (module state is per thread): its locks carry its id. */
export function setLockThread(thread: number): void {
  threadOwner = lockOwnerId(process.pid, thread);
}

/** Busy-wait iterations before sleeping: longer than a typical critical section. */
const SPIN = 2000;
/** Longest single futex sleep: the bound on noticing that the owner died. */
export const WAIT_MS = 1;

export class SharedLock {
  readonly #words: Int32Array;
  readonly #pid: number;

  /**
   * A view of the lock at `byteOffset` (4-byte aligned, {@link LOCK_BYTES} long) of `buffer`.
   * `pid` is this thread's owner id by default (the pid on a main thread: {@link setLockThread});
   * tests pass other values to act as several owners.
   */
  constructor(buffer: ArrayBuffer, byteOffset: number, pid: number = threadOwner) {
    if (byteOffset % 4 !== 0 || byteOffset < 0 || byteOffset + LOCK_BYTES > buffer.byteLength) {
      throw tsgiError('TSGI_ERR_SHM', `a lock needs ${LOCK_BYTES} bytes at a 4-byte aligned offset inside the region (offset ${byteOffset}, region ${buffer.byteLength} bytes)`);
    }
    this.#words = new Int32Array(buffer, byteOffset, LOCK_BYTES / 4);
    this.#pid = pid;
  }

  /**
   * Takes the lock, waiting as long as a live process holds it and stealing it from a dead one.
   * Returns true when the protected structure must be checked first (a holder died inside, now
   * or earlier): repair it, call {@link repaired}, then go on. Always pair with {@link release}
   * in a `finally`.
   */
  acquire(): boolean {
    const words = this.#words;
    if (Atomics.compareExchange(words, OWNER, 0, this.#pid) !== 0) this.#contended();
    return Atomics.load(words, DIRTY) !== 0;
  }

  /** Takes the lock only if it is free right now; `null` when it is not, else like {@link acquire}. */
  tryAcquire(): boolean | null {
    if (Atomics.compareExchange(this.#words, OWNER, 0, this.#pid) !== 0) return null;
    return Atomics.load(this.#words, DIRTY) !== 0;
  }

  #contended(): void {
    const words = this.#words;
    const me = this.#pid;
    let spins = 0;
    for (;;) {
      const owner = Atomics.load(words, OWNER);
      if (owner === 0) {
        if (Atomics.compareExchange(words, OWNER, 0, me) === 0) return;
        continue;
      }
      if (spins < SPIN) {
        spins++;
        continue;
      }
      // Announce the sleep before re-reading the owner: a releaser that stores 0 after our read
      // then sees WAITERS > 0 and wakes us, and one that stored 0 before makes the wait return
      // 'not-equal' at once. (Both sides use sequentially consistent Atomics.)
      Atomics.add(words, WAITERS, 1);
      const current = Atomics.load(words, OWNER);
      const outcome = current === 0 ? 'not-equal' : native.futexWait(words, OWNER, current, WAIT_MS);
      Atomics.sub(words, WAITERS, 1);
      // (A word that is no pid at all can only come from damaged memory: treat it as dead too.)
      if (outcome === 'timed-out' && current !== me && (current < 0 || !native.pidAlive(current & PID_MASK))) {
        if (Atomics.compareExchange(words, OWNER, current, me) === current) {
          this.#markStolen();
          return;
        }
      }
    }
  }

  /** Marks the structure for repair after taking the lock over from a dead owner. */
  #markStolen(): void {
    Atomics.store(this.#words, DIRTY, 1);
    Atomics.add(this.#words, STEALS, 1);
  }

  /** Releases the lock and wakes one sleeping waiter if there is one. */
  release(): void {
    const words = this.#words;
    if (Atomics.compareExchange(words, OWNER, this.#pid, 0) !== this.#pid) {
      throw tsgiError('TSGI_ERR_SHM', `process ${this.#pid} released a shared lock held by ${Atomics.load(words, OWNER) || 'nobody'}`);
    }
    if (Atomics.load(words, WAITERS) !== 0) native.futexWake(words, OWNER, 1);
  }

  /** Clears the repair flag; call while holding the lock, once the structure is consistent again. */
  repaired(): void {
    Atomics.store(this.#words, DIRTY, 0);
  }

  /**
   * For the master when it reaps a worker: if `pid` holds the lock, take it over, flag the
   * structure for repair and release it, so nobody has to wait for the liveness check and a
   * recycled pid can never impersonate the dead holder. Returns whether `pid` held it.
   */
  reap(pid: number): boolean {
    // A plain pid reaps whichever of its threads holds the lock; a thread's owner id only that thread.
    const owner = Atomics.load(this.#words, OWNER);
    const held = pid > PID_MASK ? owner === pid : owner > 0 && (owner & PID_MASK) === pid;
    if (pid <= 0 || !held || Atomics.compareExchange(this.#words, OWNER, owner, this.#pid) !== owner) return false;
    this.#markStolen();
    this.release();
    return true;
  }

  /**
   * Forgets any owner and waiter and flags the structure for repair. Only for memory that no
   * live process uses yet: a --cache-store file reopened at startup still holds the lock word
   * of the previous run, whose pid may belong to an unrelated process by now.
   */
  reset(): void {
    Atomics.store(this.#words, OWNER, 0);
    Atomics.store(this.#words, WAITERS, 0);
    Atomics.store(this.#words, DIRTY, 1);
  }

  /** Pid of the current holder, 0 when free (a snapshot). */
  get owner(): number {
    return Atomics.load(this.#words, OWNER);
  }

  /** Whether the protected structure waits for a repair (a snapshot). */
  get dirty(): boolean {
    return Atomics.load(this.#words, DIRTY) !== 0;
  }

  /** How many times a dead holder's lock was taken over since the memory was created. */
  get steals(): number {
    return Atomics.load(this.#words, STEALS);
  }

  /** The id this process writes into the lock word. */
  get pid(): number {
    return this.#pid;
  }
}
