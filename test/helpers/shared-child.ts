/**
 * A child process for the shared-memory tests (test/unit/shared-*.test.ts): it maps the region
 * its parent created (inherited as fd 3, as a worker will inherit it from the master) and runs
 * what the parent asks over IPC. The exports are the value format both sides use: every value
 * carries its length, its key and a checksum, so a torn, truncated or misplaced value is caught.
 *
 *   spawnChild(config) → { child, call(op, args) } (test side)
 *   node shared-child.js '<config json>'            (child side; fd 3 = the region)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { attachCacheStore, openCacheStore, SharedCache, type CacheOptions } from '../../runtime/shared/cache.js';
import { SharedLock } from '../../runtime/shared/lock.js';
import { SharedQueue, type QueueOptions } from '../../runtime/shared/queue.js';
import { mapRegion, type RegionLayout } from '../../runtime/shared/region.js';
import { track } from './processes.js';

// ------------------------------------------------------------------------ checksummed values

/** FNV-1a, 32 bits. */
export function fnv1a(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  return hash >>> 0;
}

/** xorshift32: a small deterministic PRNG (seed ≠ 0). */
export function prng(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

/**
 * A value for `key` of `size` bytes (≥ 10 + key length): u32 size, u32 FNV-1a of the rest,
 * u16 key length, the key, then payload bytes derived from `fill`.
 */
export function makeValue(key: string, size: number, fill: number): Buffer {
  const keyBytes = Buffer.from(key);
  const value = Buffer.alloc(Math.max(size, 10 + keyBytes.length));
  value.writeUInt32LE(value.length, 0);
  value.writeUInt16LE(keyBytes.length, 8);
  keyBytes.copy(value, 10);
  const payload = 10 + keyBytes.length;
  if (value.length - payload > 256) {
    value.fill(fill & 0xff, payload);
    value.writeUInt32LE(fill >>> 0, payload); // distinct values even when the fill byte repeats
  } else {
    let x = fill >>> 0 || 1;
    for (let i = payload; i < value.length; i++) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      value[i] = x & 0xff;
    }
  }
  value.writeUInt32LE(fnv1a(value, 8), 4);
  return value;
}

/** null when `value` is an intact value made for `key`, else what is wrong with it. */
export function checkValue(key: string, value: Buffer): string | null {
  if (value.length < 10) return `${key}: ${value.length} bytes, too short`;
  if (value.readUInt32LE(0) !== value.length) return `${key}: length field ${value.readUInt32LE(0)} ≠ ${value.length} bytes (truncated or torn)`;
  if (fnv1a(value, 8) !== value.readUInt32LE(4)) return `${key}: checksum mismatch (torn value)`;
  const keyLength = value.readUInt16LE(8);
  const owner = value.toString('utf8', 10, 10 + keyLength);
  if (owner !== key) return `${key}: holds the value of ${JSON.stringify(owner)}`;
  return null;
}

// ------------------------------------------------------------------------ IPC plumbing

export interface ChildConfig {
  /** The region layout (the region itself is fd 3). */
  layout?: RegionLayout;
  cache?: Omit<CacheOptions, 'clock' | 'onFull'>;
  queue?: Omit<QueueOptions, 'clock'>;
  /** Attach the cache through a --cache-store file instead of the region. */
  store?: string;
  /** With `store`: open it as the master does (format/validate, reset the lock, repair). */
  storeMaster?: boolean;
  /** Byte offset of a standalone lock in the region's "locks" area. */
  lockOffset?: number;
}

/** Buffers travel over JSON IPC as {b64}. */
type Wire = null | boolean | number | string | { b64: string } | Wire[] | { [key: string]: Wire };

function toWire(value: unknown): Wire {
  if (Buffer.isBuffer(value)) return { b64: value.toString('base64') };
  if (Array.isArray(value)) return value.map(toWire);
  if (value === undefined) return null;
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toWire(v)]));
  return value as Wire;
}

function fromWire(value: Wire): unknown {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value !== null && typeof value === 'object') {
    if ('b64' in value && typeof value.b64 === 'string' && Object.keys(value).length === 1) return Buffer.from(value.b64, 'base64');
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromWire(v)]));
  }
  return value;
}

export interface Child {
  child: ChildProcess;
  pid: number;
  /** Runs `op` in the child; resolves with its result (rejects with its error). */
  call<T = unknown>(op: string, ...args: unknown[]): Promise<T>;
  /** Sends `op` without waiting for the answer (for ops that never answer, like hold-lock). */
  send(op: string, ...args: unknown[]): void;
  /** Resolves with the next unsolicited message named `event` (e.g. 'holding'). */
  event<T = unknown>(event: string): Promise<T>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

const HELPER = fileURLToPath(import.meta.url);

/** Spawns a child on `regionFd` (or no region: pass -1) with `config`. */
export function spawnChild(regionFd: number, config: ChildConfig): Promise<Child> {
  const stdio: Array<'inherit' | 'ignore' | 'ipc' | number> = ['ignore', 'inherit', 'inherit', regionFd >= 0 ? regionFd : 'ignore', 'ipc'];
  const child = spawn(process.execPath, [HELPER, JSON.stringify(config)], { stdio });
  track('shared child', child, { output: () => '' }); // stopped at exit if a test fails before it ends
  let nextId = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  const waiters = new Map<string, Array<(value: unknown) => void>>();
  const early = new Map<string, unknown[]>();
  child.on('message', (raw: { id?: number; event?: string; result?: Wire; error?: string }) => {
    if (raw.event !== undefined) {
      const list = waiters.get(raw.event);
      const value = fromWire(raw.result ?? null);
      if (list && list.length > 0) list.shift()!(value);
      else early.set(raw.event, [...(early.get(raw.event) ?? []), value]);
      return;
    }
    const entry = pending.get(raw.id!);
    if (!entry) return;
    pending.delete(raw.id!);
    if (raw.error !== undefined) entry.reject(new Error(`child ${child.pid}: ${raw.error}`));
    else entry.resolve(fromWire(raw.result ?? null));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      for (const entry of pending.values()) entry.reject(new Error(`child ${child.pid} exited (${code ?? signal}) before answering`));
      pending.clear();
      resolve({ code, signal });
    });
  });
  const handle: Child = {
    child,
    pid: child.pid!,
    call<T>(op: string, ...args: unknown[]) {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ id, op, args: toWire(args) });
      });
    },
    send(op: string, ...args: unknown[]) {
      child.send({ id: nextId++, op, args: toWire(args) });
    },
    event<T>(event: string) {
      const queued = early.get(event);
      if (queued && queued.length > 0) return Promise.resolve(queued.shift() as T);
      return new Promise<T>((resolve) => waiters.set(event, [...(waiters.get(event) ?? []), resolve as (value: unknown) => void]));
    },
    exited,
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    handle.event('ready').then(() => resolve(handle), reject);
    exited.then(({ code, signal }) => reject(new Error(`child exited (${code ?? signal}) before it was ready`)));
  });
}

// ------------------------------------------------------------------------ child side

function childMain(config: ChildConfig): void {
  const region = config.layout ? mapRegion(3, config.layout) : undefined;
  let cache: SharedCache | undefined;
  if (config.store && config.cache) {
    cache = config.storeMaster ? openCacheStore(config.store, config.cache) : attachCacheStore(config.store, config.cache);
  } else if (config.cache && region) {
    cache = SharedCache.attach(region.area('cache'), config.cache);
  }
  const queue = config.queue && region ? SharedQueue.attach(region.area('queue'), config.queue) : undefined;
  const lock = config.lockOffset !== undefined && region ? new SharedLock(region.area('locks').buffer, region.area('locks').byteOffset + config.lockOffset) : undefined;
  const emit = (event: string, result?: unknown) => process.send!({ event, result: toWire(result) });

  const ops: Record<string, (...args: unknown[]) => unknown> = {
    cache: (method, ...args) => (cache as unknown as Record<string, (...a: unknown[]) => unknown>)[method as string]!.call(cache, ...args),
    queue: (method, ...args) => (queue as unknown as Record<string, (...a: unknown[]) => unknown>)[method as string]!.call(queue, ...args),
    pid: () => process.pid,
    /** Bytes of a region area, and writing into one: the region is really shared. */
    peek: (area, offset, length) => Buffer.from(region!.area(area as string).buffer, region!.area(area as string).byteOffset + (offset as number), length as number).toString('hex'),
    poke: (area, offset, bytes) => {
      (bytes as Buffer).copy(Buffer.from(region!.area(area as string).buffer, region!.area(area as string).byteOffset + (offset as number)));
      return true;
    },

    /**
     * `ops` random operations: on `shared` keys (both processes) anything goes and every value
     * read must be intact; on this child's own keys it also knows what must be there.
     */
    mixed: (params) => {
      const { ops: count, shared, own, tag, seed, bigEvery, big } = params as { ops: number; shared: number; own: number; tag: string; seed: number; bigEvery: number; big: number };
      const c = cache!;
      const random = prng(seed);
      const errors: string[] = [];
      const expected = new Map<string, Buffer | null>();
      const counts = { get: 0, hit: 0, set: 0, update: 0, del: 0, exists: 0, checked: 0 };
      const fail = (message: string) => {
        if (errors.length < 20) errors.push(message);
      };
      for (let n = 0; n < count; n++) {
        const r = random();
        const mine = (r & 1) === 0;
        const key = mine ? `own:${tag}:${(r >>> 1) % own}` : `shared:${(r >>> 1) % shared}`;
        const size = (r >>> 20) % bigEvery === 0 ? big : 16 + ((r >>> 8) % 600);
        const op = (r >>> 28) % 8;
        if (op < 3) {
          counts.get++;
          const value = c.get(key);
          if (value !== null) {
            counts.hit++;
            const problem = checkValue(key, value);
            if (problem) fail(problem);
          }
          if (mine) {
            const want = expected.has(key) ? expected.get(key)! : null;
            if ((want === null) !== (value === null) || (want !== null && !want.equals(value!))) {
              fail(`${key}: read ${value === null ? 'null' : `${value.length} bytes`}, last written ${want === null ? 'nothing' : `${want.length} bytes`} (lost write)`);
            }
          }
        } else if (op < 4) {
          counts.set++;
          const value = makeValue(key, size, random());
          const stored = c.set(key, value);
          if (mine) {
            const had = expected.has(key) && expected.get(key) !== null;
            if (stored === had) fail(`${key}: set returned ${stored} although the key ${had ? 'existed' : 'was missing'}`);
            if (stored) expected.set(key, value);
          }
        } else if (op < 6) {
          counts.update++;
          const value = makeValue(key, size, random());
          if (!c.update(key, value)) fail(`${key}: update failed`);
          if (mine) expected.set(key, value);
        } else if (op < 7) {
          counts.del++;
          const removed = c.del(key);
          if (mine) {
            const had = expected.has(key) && expected.get(key) !== null;
            if (removed !== had) fail(`${key}: del returned ${removed}, the key ${had ? 'existed' : 'was missing'}`);
            expected.set(key, null);
          }
        } else {
          counts.exists++;
          const present = c.exists(key);
          if (mine) {
            const had = expected.has(key) && expected.get(key) !== null;
            if (present !== had) fail(`${key}: exists ${present}, expected ${had}`);
          }
        }
      }
      const final: Record<string, number | null> = {};
      for (const [key, value] of expected) final[key] = value === null ? null : fnv1a(value);
      return { errors, counts, final };
    },

    /** Forever: update/set/del of big values on `keys` keys (the copy dominates, inside the lock). */
    'write-loop': (params) => {
      const { keys, size, seed } = params as { keys: number; size: number; seed: number };
      const c = cache!;
      const random = prng(seed);
      const values = Array.from({ length: keys }, (_, k) => Array.from({ length: 4 }, (_, v) => makeValue(`kill:${k}`, size - v * 7, seed * 16 + v)));
      emit('started', process.pid);
      for (;;) {
        const r = random();
        const k = r % keys;
        const key = `kill:${k}`;
        const op = (r >>> 16) % 16;
        if (op === 0) c.del(key);
        else if (op === 1) c.set(key, values[k]![(r >>> 8) & 3]!);
        else c.update(key, values[k]![(r >>> 8) & 3]!);
      }
    },

    /**
     * Random ops on the `kill:*` keys, checking every value read, until the key `survivor:stop`
     * appears (or `ms` elapse).
     */
    'survive-loop': (params) => {
      const { keys, ms, seed } = params as { keys: number; ms: number; seed: number };
      const c = cache!;
      const random = prng(seed);
      const errors: string[] = [];
      let ops = 0;
      let slowest = 0;
      const end = Date.now() + ms;
      while (Date.now() < end && ((ops & 255) !== 0 || !c.exists('survivor:stop'))) {
        const r = random();
        const key = `kill:${r % keys}`;
        const started = process.hrtime.bigint();
        if ((r >>> 16) % 4 === 0) c.update(key, makeValue(key, 100 + (r >>> 24), r));
        else {
          const value = c.get(key);
          if (value !== null) {
            const problem = checkValue(key, value);
            if (problem && errors.length < 20) errors.push(problem);
          }
        }
        const took = Number(process.hrtime.bigint() - started) / 1e6;
        if (took > slowest) slowest = took;
        ops++;
      }
      return { errors, ops, slowestMs: slowest };
    },

    /** For `ms`: updates of `keys` keys with values of many sizes, as fast as possible. */
    'update-loop': (params) => {
      const { keys, ms, seed } = params as { keys: number; ms: number; seed: number };
      const c = cache!;
      const random = prng(seed);
      const values = Array.from({ length: keys }, (_, k) => Array.from({ length: 16 }, (_, v) => makeValue(`race:${k}`, 16 + v * 500 + (seed % 7), seed * 100 + v)));
      let updates = 0;
      const end = Date.now() + ms;
      while (Date.now() < end) {
        for (let i = 0; i < 64; i++) {
          const r = random();
          if (!c.update(`race:${r % keys}`, values[r % keys]![(r >>> 8) & 15]!)) throw new Error('update failed');
          updates++;
        }
      }
      return updates;
    },

    /** For `ms`: gets of the `race:*` keys, every value checked. */
    'read-loop': (params) => {
      const { keys, ms } = params as { keys: number; ms: number };
      const c = cache!;
      const errors: string[] = [];
      let reads = 0;
      let hits = 0;
      const end = Date.now() + ms;
      while (Date.now() < end) {
        for (let i = 0; i < 64; i++) {
          const key = `race:${reads % keys}`;
          const value = c.get(key);
          reads++;
          if (value === null) continue;
          hits++;
          const problem = checkValue(key, value);
          if (problem !== null && errors.length < 20) errors.push(problem);
        }
      }
      return { reads, hits, errors };
    },

    /** Takes the standalone lock and keeps it (busy) until killed. */
    'hold-lock': () => {
      lock!.acquire();
      emit('holding', process.pid);
      for (;;) {
        // busy, holding the lock
      }
    },

    /** Takes the lock, keeps it `ms`, releases; answers with the time (Date.now()) just before the release. */
    'hold-lock-for': (ms) => {
      lock!.acquire();
      emit('holding', process.pid);
      const end = Date.now() + (ms as number);
      while (Date.now() < end) {
        // busy, holding the lock
      }
      const releasedAt = Date.now();
      lock!.release();
      return releasedAt;
    },

    /**
     * `times` non-atomic increments of the Int32 after the lock (at lockOffset + 64), each under
     * the lock unless `unlocked`, from the wall-clock time `startAt` on: the mutual-exclusion check.
     */
    increment: (times, unlocked, startAt) => {
      const area = region!.area('locks');
      const counter = new Int32Array(area.buffer, area.byteOffset + config.lockOffset! + 64, 1);
      while (Date.now() < (startAt as number)) {
        // both children start together, so that they really overlap
      }
      for (let i = 0; i < (times as number); i++) {
        if (!unlocked) lock!.acquire();
        const value = counter[0]!;
        for (let spin = 0; spin < 20; spin++) counter[0] = value; // widen the race window
        counter[0] = value + 1;
        if (!unlocked) lock!.release();
      }
      return counter[0];
    },

    /** Forever: pushes (and now and then pops) checksummed messages as big as a slot allows. */
    'push-forever': (size) => {
      const messages = Array.from({ length: 8 }, (_, i) => makeValue('queue', (size as number) - i * 3, i + 1));
      emit('started', process.pid);
      for (let i = 0; ; i++) {
        queue!.push(messages[i & 7]!);
        if ((i & 15) === 0) queue!.pop();
      }
    },

    /** Pushes `count` messages "tag:i" as fast as it can. */
    'push-many': (tag, count) => {
      for (let i = 0; i < (count as number); i++) if (!queue!.push(`${tag as string}:${i}`)) throw new Error(`push ${i} failed`);
      return true;
    },
  };

  process.on('message', (message: { id: number; op: string; args: Wire }) => {
    try {
      const args = fromWire(message.args) as unknown[];
      const result = ops[message.op]!(...args);
      process.send!({ id: message.id, result: toWire(result) });
    } catch (error) {
      process.send!({ id: message.id, error: error instanceof Error ? `${(error as { code?: string }).code ?? error.name}: ${error.message}` : String(error) });
    }
  });
  emit('ready', process.pid);
}

if (process.argv[1] === HELPER && process.send !== undefined) childMain(JSON.parse(process.argv[2]!) as ChildConfig);
