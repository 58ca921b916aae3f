/**
 * Shared cache vs a local Redis, side by side (issue 4's target: ≥ 10× Redis).
 *
 * Two worker-like processes map one tsgi region (runtime/shared/, fd 3 as a worker inherits it)
 * and call the cache in a tight loop for BENCH_CACHE_SECONDS; the same two processes' worth of
 * load then goes to a redis-server started here on loopback (no persistence), through a minimal
 * RESP client (one TCP connection per process):
 *   - "sequential": one command in flight per process, as a sync-style handler doing
 *     `await redis.get(k)` per request would;
 *   - "pipelined": BENCH_CACHE_DEPTH (64) commands in flight per process, what an async worker
 *     serving many concurrent requests (or a client's auto-pipelining) gets at best.
 * Operations, on 1000 keys with 100-byte values: get (hit) = GET; update (overwrite) = SET;
 * set+del of a new key = SET NX + DEL (counted as two operations). Configurations are
 * interleaved per round (tsgi, redis seq, redis pipelined, tsgi, …) and medians are reported,
 * with the ratio tsgi / Redis.
 *
 *   npx tsc -p . && node dist/bench/cache.bench.js
 *   env: BENCH_CACHE_ROUNDS (3), BENCH_CACHE_SECONDS (2), BENCH_CACHE_DEPTH (64),
 *        BENCH_CACHE_PROCS (2), BENCH_CACHE_VALUE (100 bytes), BENCH_CACHE_QUIET_PCT (25) and
 *        BENCH_CACHE_QUIET_WAIT (20 s): before each run, wait at most QUIET_WAIT s until the
 *        machine is less than QUIET_PCT % busy (other people's work skews contended locks most);
 *        each run's figure is printed with how busy the machine was just before it.
 *
 * Needs redis-server (Debian: apt-get install -y redis-server); without it only tsgi runs.
 * Every process started here is stopped by its pid at the end.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { cacheAreaSize, SharedCache, type CacheOptions } from '../runtime/shared/cache.js';
import { createRegion, mapRegion } from '../runtime/shared/region.js';
import { machineBusy, median } from './common.js';
import { pickPort } from '../test/helpers/ports.js';
import { spawnTracked, stopAll, track } from '../test/helpers/processes.js';

const SELF = fileURLToPath(import.meta.url);
const envNumber = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}: expected a positive number`);
  return value;
};
const ROUNDS = Math.round(envNumber('BENCH_CACHE_ROUNDS', 3));
const SECONDS = envNumber('BENCH_CACHE_SECONDS', 2);
const DEPTH = Math.round(envNumber('BENCH_CACHE_DEPTH', 64));
const PROCS = Math.round(envNumber('BENCH_CACHE_PROCS', 2));
const VALUE_BYTES = Math.round(envNumber('BENCH_CACHE_VALUE', 100));
const QUIET_PCT = envNumber('BENCH_CACHE_QUIET_PCT', 25);
const QUIET_WAIT_S = envNumber('BENCH_CACHE_QUIET_WAIT', 20);
const KEYS = 1000;
const CACHE: CacheOptions = { items: 4096, blocksize: 4096 };
const LAYOUT = { cache: cacheAreaSize(CACHE) };

type Op = 'get' | 'update' | 'set+del';
const OPS: Op[] = ['get', 'update', 'set+del'];
type Backend = 'tsgi' | 'redis-seq' | 'redis-pipe';

interface ChildJob {
  backend: Backend;
  op: Op;
  seconds: number;
  port?: number;
  depth?: number;
  index: number;
}

const keyName = (i: number) => `key:${i}`;
const value = Buffer.alloc(VALUE_BYTES, 'v');

// ------------------------------------------------------------------------------ tsgi child

/** Tells the parent this child is set up, and resolves with the common start time it sends back. */
function ready(): Promise<number> {
  return new Promise((resolve) => {
    process.once('message', (message: { startAt: number }) => resolve(message.startAt));
    process.send!('ready');
  });
}

async function runTsgi(job: ChildJob): Promise<number> {
  const cache = SharedCache.attach(mapRegion(3, LAYOUT).area('cache'), CACHE);
  const keys = Array.from({ length: KEYS }, (_, i) => keyName(i));
  const fresh = `new:${job.index}`;
  const startAt = await ready();
  while (Date.now() < startAt) {
    // start together with the other process
  }
  const end = startAt + job.seconds * 1000;
  let ops = 0;
  let sink = 0;
  for (let batch = 0; Date.now() < end; batch++) {
    for (let i = 0; i < 1000; i++) {
      const key = keys[(ops + i) % KEYS]!;
      if (job.op === 'get') sink += cache.get(key)!.length;
      else if (job.op === 'update') sink += cache.update(key, value) ? 1 : 0;
      else sink += (cache.set(fresh, value) ? 1 : 0) + (cache.del(fresh) ? 1 : 0);
    }
    ops += job.op === 'set+del' ? 2000 : 1000;
  }
  if (sink === 0) throw new Error('no operation succeeded');
  return ops;
}

// ------------------------------------------------------------------------------ RESP client

function encode(...args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Counts complete RESP replies in a stream (simple, error, integer, bulk; no arrays needed here). */
class ReplyCounter {
  #pending = Buffer.alloc(0);
  errors = 0;
  values = 0;

  feed(chunk: Buffer): number {
    let data = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    let count = 0;
    let at = 0;
    for (;;) {
      const eol = data.indexOf('\r\n', at);
      if (eol < 0) break;
      const type = data[at];
      if (type === 0x24) { // $ bulk
        const length = Number(data.toString('latin1', at + 1, eol));
        if (length < 0) {
          at = eol + 2;
        } else {
          if (data.length < eol + 2 + length + 2) break;
          this.values += data.subarray(eol + 2, eol + 2 + length).length;
          at = eol + 2 + length + 2;
        }
      } else {
        if (type === 0x2d) this.errors++; // - error
        at = eol + 2;
      }
      count++;
    }
    this.#pending = at < data.length ? Buffer.from(data.subarray(at)) : Buffer.alloc(0);
    data = Buffer.alloc(0);
    return count;
  }
}

function redisConnect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true }, () => resolve(socket));
    socket.once('error', reject);
  });
}

function commandFor(op: Op, n: number, fresh: string): Buffer[] {
  const key = keyName(n % KEYS);
  if (op === 'get') return [encode('GET', key)];
  if (op === 'update') return [encode('SET', key, value)];
  return [encode('SET', fresh, value, 'NX'), encode('DEL', fresh)];
}

async function runRedis(job: ChildJob): Promise<number> {
  const socket = await redisConnect(job.port!);
  const counter = new ReplyCounter();
  const fresh = `new:${job.index}`;
  const depth = job.backend === 'redis-pipe' ? job.depth! : 1;
  const startAt = await ready();
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, startAt - Date.now())));
  const end = startAt + job.seconds * 1000;
  let sent = 0;
  let done = 0;
  let stopping = false;
  return new Promise((resolve, reject) => {
    const send = (count: number) => {
      const batch: Buffer[] = [];
      for (let i = 0; i < count; i++) batch.push(...commandFor(job.op, sent++, fresh));
      socket.write(batch.length === 1 ? batch[0]! : Buffer.concat(batch));
    };
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      // set+del sends its two commands as one unit, so replies come in pairs.
      const replies = counter.feed(chunk);
      done += replies;
      const perUnit = job.op === 'set+del' ? 2 : 1;
      const inFlight = sent * perUnit - done;
      if (Date.now() >= end) stopping = true;
      if (stopping) {
        if (inFlight === 0) {
          socket.destroy();
          if (counter.errors > 0) reject(new Error(`${counter.errors} Redis errors`));
          else resolve(done);
        }
        return;
      }
      const free = depth - Math.ceil(inFlight / perUnit);
      if (free > 0) send(free);
    });
    send(depth);
  });
}

// ------------------------------------------------------------------------------ orchestration

interface Proc {
  child: ChildProcess;
  ready: Promise<void>;
  output: Promise<string>;
}

function startChild(job: ChildJob, regionFd: number): Proc {
  const child = spawn(process.execPath, [SELF, '--child', JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit', regionFd, 'ipc'] });
  track(`cache child ${job.index}`, child, { output: () => '' });
  const ready = new Promise<void>((resolve) => child.once('message', () => resolve()));
  const output = new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`bench child exited with ${code}: ${text}`))));
  });
  return { child, ready, output };
}

/** Runs PROCS children on `backend`/`op` together; returns total ops per second. */
async function measure(backend: Backend, op: Op, regionFd: number, port: number | undefined): Promise<number> {
  const procs = Array.from({ length: PROCS }, (_, index) => startChild({ backend, op, seconds: SECONDS, port, depth: DEPTH, index }, regionFd));
  await Promise.race([Promise.all(procs.map((proc) => proc.ready)), Promise.all(procs.map((proc) => proc.output))]);
  const startAt = Date.now() + 50;
  for (const proc of procs) proc.child.send({ startAt });
  const counts = await Promise.all(procs.map((proc) => proc.output.then((text) => Number(JSON.parse(text).ops))));
  return counts.reduce((a, b) => a + b, 0) / SECONDS;
}


async function startRedis(): Promise<{ child: ChildProcess; port: number; version: string } | undefined> {
  if (spawnSync('sh', ['-c', 'command -v redis-server']).status !== 0) return undefined;
  const port = await pickPort();
  const { child } = spawnTracked('redis', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
  for (let tries = 0; tries < 100; tries++) {
    try {
      const socket = await redisConnect(port);
      const counter = new ReplyCounter();
      // Preload the keys the get/update runs use.
      await new Promise<void>((resolve) => {
        let replies = 0;
        socket.on('data', (chunk: Buffer) => {
          replies += counter.feed(chunk);
          if (replies === KEYS) resolve();
        });
        socket.write(Buffer.concat(Array.from({ length: KEYS }, (_, i) => encode('SET', keyName(i), value))));
      });
      socket.destroy();
      const version = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.trim();
      return { child, port, version };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  child.kill('SIGKILL');
  throw new Error('redis-server did not accept connections');
}


async function quietGate(): Promise<number> {
  const deadline = Date.now() + QUIET_WAIT_S * 1000;
  for (;;) {
    const busy = await machineBusy();
    if (busy < QUIET_PCT || Date.now() >= deadline) return busy;
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en');

async function main(): Promise<void> {
  const region = createRegion(LAYOUT, 'tsgi-bench-cache');
  const cache = SharedCache.format(region.area('cache'), CACHE);
  for (let i = 0; i < KEYS; i++) cache.update(keyName(i), value);
  const redis = await startRedis(); // on processes.ts's record: stopped at exit whatever happens
  if (redis === undefined) process.stderr.write('redis-server not found (apt-get install -y redis-server): measuring tsgi only\n');
  const backends: Backend[] = redis ? ['tsgi', 'redis-seq', 'redis-pipe'] : ['tsgi'];
  const results = new Map<string, number[]>();
  const busyBefore = new Map<string, number[]>();
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const op of OPS) {
        for (const backend of backends) {
          const busy = await quietGate();
          const rate = await measure(backend, op, region.fd, redis?.port);
          const id = `${backend}/${op}`;
          results.set(id, [...(results.get(id) ?? []), rate]);
          busyBefore.set(id, [...(busyBefore.get(id) ?? []), busy]);
          process.stderr.write(`round ${round}/${ROUNDS} ${id}: ${fmt(rate)} ops/s (machine ${busy.toFixed(0)} % busy before)\n`);
        }
      }
    }
  } finally {
    await stopAll();
    region.close();
  }
  const stats = cache.stats();
  if (cache.verify().length > 0 || stats.lockSteals !== 0) throw new Error(`cache inconsistent after the bench: ${JSON.stringify(stats)}`);

  const lines = [
    `| operation (${PROCS} processes, ${KEYS} keys, ${VALUE_BYTES}-byte values) | tsgi cache ops/s | Redis sequential ops/s | Redis pipelined ×${DEPTH} ops/s | tsgi ÷ Redis seq | tsgi ÷ Redis pipelined |`,
    '|---|---|---|---|---|---|',
  ];
  for (const op of OPS) {
    const tsgi = median(results.get(`tsgi/${op}`)!);
    const seq = redis ? median(results.get(`redis-seq/${op}`)!) : NaN;
    const pipe = redis ? median(results.get(`redis-pipe/${op}`)!) : NaN;
    const name = { get: 'cache_get (hit) vs GET', update: 'cache_update (overwrite) vs SET', 'set+del': 'cache_set new key + cache_del vs SET NX + DEL' }[op];
    lines.push(`| ${name} | ${fmt(tsgi)} | ${redis ? fmt(seq) : 'n/a'} | ${redis ? fmt(pipe) : 'n/a'} | ${redis ? `${(tsgi / seq).toFixed(1)}×` : 'n/a'} | ${redis ? `${(tsgi / pipe).toFixed(1)}×` : 'n/a'} |`);
  }
  lines.push('', `medians of ${ROUNDS} interleaved rounds × ${SECONDS} s; node ${process.version}; ${redis?.version ?? 'no redis-server'}; ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}); runs per configuration (machine busy % just before each):`);
  for (const [id, rates] of results) lines.push(`- ${id}: ${rates.map((rate, i) => `${fmt(rate)} (${busyBefore.get(id)![i]!.toFixed(0)} %)`).join(', ')}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (process.argv[2] === '--child') {
  const job = JSON.parse(process.argv[3]!) as ChildJob;
  const result = job.backend === 'tsgi' ? runTsgi(job) : runRedis(job);
  result.then((ops) => {
    process.stdout.write(JSON.stringify({ ops }));
    process.disconnect();
  }, (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  });
} else if (existsSync(SELF)) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
