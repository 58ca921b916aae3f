/**
 * The spooler vs BullMQ on a local Redis, side by side (issue 5).
 *
 * tsgi: an instance runs bench/apps/spooler-bench.js, whose `GET /enqueue?n=N` calls
 * `uwsgi.spool({ n: String(i) })` N times in one loop inside the worker and answers the loop's
 * own time; spooler processes run an empty handler (a plain function returning SPOOL_OK) that
 * notes when each task finished, and write that down when they exit. BullMQ: a Queue in this
 * process and Worker processes (one node process each) on a redis-server started here on
 * loopback, without persistence (`--save '' --appendonly no`), jobs with removeOnComplete and
 * removeOnFail.
 *
 * Figures, for N tasks (BENCH_SPOOLER_TASKS, 5,000), each run on a fresh instance / queue:
 *   - enqueue tasks/s from one process, no consumer running: tsgi spool() in a loop (an instance
 *     with `--spooler-external DIR`, so no spooler exists), BullMQ `await queue.add()` one at a
 *     time, and `queue.addBulk()` in batches of 100;
 *   - end to end tasks/s: from the start of enqueueing N tasks (as above; the BullMQ workers
 *     consume while jobs arrive, the spoolers are woken once the loop's event-loop turn ends, as
 *     spool() batches its wake-ups per turn) until the last one was executed, for 1 consumer running 1 task at
 *     a time (`--spooler-processes 1 --spooler-async 1` / 1 Worker process, concurrency 1) and 2
 *     consumers running 8 each (`--spooler-processes 2 --spooler-async 8` / 2 Worker processes,
 *     concurrency 8);
 *   - drain tasks/s: N tasks already queued (written untimed into the spool directory while the
 *     spoolers are idle, then one spool() through the app wakes them / `addBulk` before the
 *     Workers start), from the wake-up (`run()` of the workers) until the last one was executed;
 *   - the raw cost of what spool() does per task: open + write + fsync + close + rename of a
 *     task-sized file, with and without the fsync, in this process.
 * tsgi runs on two spool directories: under the OS temp dir (disk: fsync is real) and, when
 * /dev/shm exists, on tmpfs (fsync is free: the durability Redis-without-persistence has).
 * Configurations are interleaved per round; medians and ratios are printed at the end.
 *
 *   npx tsc -p . && node dist/bench/spooler.bench.js
 *   env: BENCH_SPOOLER_TASKS (5000), BENCH_SPOOLER_ROUNDS (3), BENCH_SPOOLER_TMPFS (/dev/shm;
 *        empty: disk only), BENCH_SPOOLER_EVERY (0: one loop; K: the enqueue loops yield to the
 *        event loop every K tasks, as K-task requests would), BENCH_SPOOLER_HANDLER (sync: a plain
 *        function; async: an async function, a Promise per task), BENCH_SPOOLER_WARMUP (500
 *        tasks through each fresh tsgi worker, and once through this process's Queue, untimed),
 *        BENCH_SPOOLER_CONSUMERS (1x1,2x8: processes x tasks at once per process),
 *        BENCH_SPOOLER_FIGURES (raw,enqueue,e2e,drain: which to measure), BENCH_SPOOLER_TIMEOUT
 *        (120 s per run), BENCH_SPOOLER_QUIET_PCT (25) and
 *        BENCH_SPOOLER_QUIET_WAIT (20 s): before each run, wait at most QUIET_WAIT s until the
 *        machine is less than QUIET_PCT % busy.
 *
 * Needs redis-server (Debian: apt-get install -y redis-server); without it only tsgi runs.
 * Every process started here is stopped by its pid at the end, also on failure; temp dirs go.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { get } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { encodeSpoolFile, spoolFileName, SPOOL_FILE_PREFIX } from '../runtime/spooler/spool-file.js';
import { machineBusy, median } from './common.js';
import { pickPort } from '../test/helpers/ports.js';
import { killAllNow, track as trackProcess } from '../test/helpers/processes.js';

const SELF = fileURLToPath(import.meta.url);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'dist/runtime/main.js');
const APP = join(ROOT, 'bench/apps/spooler-bench.js');

const envNumber = (name: string, fallback: number, min = 1) => {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name}=${raw}: expected a number ≥ ${min}`);
  return value;
};
const TASKS = Math.round(envNumber('BENCH_SPOOLER_TASKS', 5000));
const ROUNDS = Math.round(envNumber('BENCH_SPOOLER_ROUNDS', 3));
const EVERY = Math.round(envNumber('BENCH_SPOOLER_EVERY', 0, 0));
const TIMEOUT_MS = envNumber('BENCH_SPOOLER_TIMEOUT', 120) * 1000;
const QUIET_PCT = envNumber('BENCH_SPOOLER_QUIET_PCT', 25);
const QUIET_WAIT_S = envNumber('BENCH_SPOOLER_QUIET_WAIT', 20, 0);
const HANDLER = process.env.BENCH_SPOOLER_HANDLER === 'async' ? 'async' : 'sync';
const TMPFS = process.env.BENCH_SPOOLER_TMPFS ?? '/dev/shm';
const WARMUP = Math.round(envNumber('BENCH_SPOOLER_WARMUP', 500, 0));
const BULK = 100;
const RAW_FILES = 1000;

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en') : 'n/a');
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a');

/** What a consumer process (spooler or BullMQ worker) reports: wall-clock ms. */
interface Marks {
  done: number;
  first: number;
  last: number;
}

interface Consumers {
  procs: number;
  conc: number;
}
const CONSUMERS: Consumers[] = (process.env.BENCH_SPOOLER_CONSUMERS || '1x1,2x8').split(',').map((spec) => {
  const match = /^(\d+)x(\d+)$/.exec(spec.trim());
  if (!match) throw new Error(`BENCH_SPOOLER_CONSUMERS: ${JSON.stringify(spec)} is not PROCESSESxCONCURRENCY`);
  return { procs: Number(match[1]), conc: Number(match[2]) };
});
const FIGURES = new Set((process.env.BENCH_SPOOLER_FIGURES || 'raw,enqueue,e2e,drain').split(',').map((name) => name.trim()));
const consumersLabel = (c: Consumers) => `${c.procs}×${c.conc}`;

// ------------------------------------------------------------------------------ BullMQ worker child

interface BullWorkerJob {
  port: number;
  queue: string;
  concurrency: number;
}

async function bullWorkerChild(job: BullWorkerJob): Promise<void> {
  const connection = new Redis({ host: '127.0.0.1', port: job.port, maxRetriesPerRequest: null });
  const marks: Marks = { done: 0, first: 0, last: 0 };
  const worker = new Worker(job.queue, async () => {
    marks.last = now();
    if (marks.done++ === 0) marks.first = marks.last;
  }, { connection, concurrency: job.concurrency, autorun: false });
  worker.on('error', (error) => process.stderr.write(`bullmq worker ${process.pid}: ${error.message}\n`));
  await worker.waitUntilReady();
  process.on('message', (message: { act: string }) => {
    if (message.act === 'go') {
      worker.run().catch((error: unknown) => process.stderr.write(`bullmq worker ${process.pid}: ${String(error)}\n`));
    } else if (message.act === 'report') {
      void worker.close().then(() => {
        connection.disconnect();
        process.send!(marks, () => process.disconnect());
      });
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ act: 'ready' });
}

// ------------------------------------------------------------------------------ processes

/**
 * Every child goes on processes.ts's record, which stops it at exit whatever happens; a detached
 * one (tsgi, redis: their own process group) is SIGKILLed as a group, so tsgi's workers and
 * spoolers go with it.
 */
function track(name: string, child: ChildProcess, group = false): ChildProcess {
  trackProcess(name, child, { group });
  return child;
}

/** Waits for `child` to exit; SIGKILLs its group after `ms`. */
function exited(child: ChildProcess, ms = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      process.stderr.write(`pid ${child.pid} still running after ${ms} ms: SIGKILL\n`);
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}


interface Tsgi {
  child: ChildProcess;
  port: number;
  output: () => string;
}

/**
 * Starts tsgi on the bench app; resolves once its worker and `spoolers` spoolers are ready and
 * the worker's spool() path is warm (WARMUP tasks into `dirs.warm`, a --spooler-external
 * directory nobody spools, as the Queue in this process is warm for BullMQ).
 */
async function startTsgi(spoolArgs: string[], spoolers: number, dirs: RunDirs): Promise<Tsgi> {
  const port = await pickPort();
  const args = [MAIN, '--http-socket', `127.0.0.1:${port}`, '--wsgi-file', APP, '--master', ...spoolArgs, '--spooler-external', dirs.warm, '--disable-logging'];
  const env = { ...process.env, SPOOLER_BENCH_MARKS: dirs.marks, SPOOLER_BENCH_HANDLER: HANDLER };
  const child = track('tsgi', spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true }), true);
  let text = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tsgi not ready after 30 s:\n${text}`)), 30_000);
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const ready = /all 1 workers ready/.test(text) && (text.match(/spooler ready \(pid/g) ?? []).length >= spoolers;
      if (ready) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tsgi exited (${code}) before it was ready:\n${text}`));
    });
  });
  const tsgi = { child, port, output: () => text };
  try {
    if (WARMUP > 0) await fetchJson<Enqueued>(port, `/enqueue?n=${WARMUP}&dir=${encodeURIComponent(dirs.warm)}`);
  } catch (error) {
    await stopTsgi(tsgi);
    throw error;
  }
  return tsgi;
}

async function stopTsgi(tsgi: Tsgi): Promise<void> {
  tsgi.child.kill('SIGTERM');
  await exited(tsgi.child);
}

function fetchJson<T>(port: number, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const request = get({ port, host: '127.0.0.1', path, agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`GET ${path}: ${res.statusCode} ${text}`));
        resolve(JSON.parse(text) as T);
      });
    });
    request.setTimeout(TIMEOUT_MS, () => request.destroy(new Error(`GET ${path}: no answer after ${TIMEOUT_MS} ms`)));
    request.on('error', reject);
  });
}

/** Polls until `done()` holds; throws `what` after the run timeout. */
async function until(done: () => boolean | Promise<boolean>, what: string, every = 50): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what}: not done after ${TIMEOUT_MS / 1000} s`);
    await sleep(every);
  }
}

const pendingTasks = (dir: string) => readdirSync(dir).filter((name) => name.startsWith(SPOOL_FILE_PREFIX)).length;

/** Sums the spoolers' marks (one spooler-<pid>.json per process, written at its exit). */
function readSpoolerMarks(dir: string): Marks {
  const all = readdirSync(dir).filter((name) => name.startsWith('spooler-')).map((name) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as Marks);
  return {
    done: all.reduce((sum, m) => sum + m.done, 0),
    first: Math.min(...all.filter((m) => m.done > 0).map((m) => m.first)),
    last: Math.max(...all.map((m) => m.last)),
  };
}

// ------------------------------------------------------------------------------ tsgi runs

interface Enqueued {
  ms: number;
  startedAt: number;
}

interface RunDirs {
  spool: string;
  warm: string;
  marks: string;
  cleanup: () => void;
}

let runCounter = 0;
function runDirs(base: string): RunDirs {
  const id = ++runCounter;
  const spool = join(base, `q${id}`);
  const warm = join(base, `w${id}`);
  const marks = join(base, `m${id}`);
  mkdirSync(marks, { recursive: true });
  return { spool, warm, marks, cleanup: () => {
    for (const dir of [spool, warm, marks]) rmSync(dir, { recursive: true, force: true });
  } };
}

const enqueuePath = (n: number) => `/enqueue?n=${n}${EVERY > 0 ? `&every=${EVERY}` : ''}`;

/** Enqueue only: no spooler process at all (`--spooler-external`). Returns tasks/s. */
async function tsgiEnqueue(base: string): Promise<number> {
  const dirs = runDirs(base);
  const tsgi = await startTsgi(['--spooler-external', dirs.spool], 0, dirs);
  try {
    const result = await fetchJson<Enqueued>(tsgi.port, enqueuePath(TASKS));
    const pending = pendingTasks(dirs.spool);
    if (pending !== TASKS) throw new Error(`tsgi enqueue: ${pending} task files, expected ${TASKS}`);
    return TASKS / (result.ms / 1000);
  } finally {
    await stopTsgi(tsgi);
    dirs.cleanup();
  }
}

const spoolerArgs = (dir: string, c: Consumers) => ['--spooler', dir, '--spooler-processes', String(c.procs), '--spooler-async', String(c.conc)];

/** End to end: enqueue TASKS through the app, wait until the spoolers ran them all. */
async function tsgiEndToEnd(base: string, c: Consumers): Promise<{ rate: number; enqueueRate: number }> {
  const dirs = runDirs(base);
  const tsgi = await startTsgi(spoolerArgs(dirs.spool, c), c.procs, dirs);
  try {
    await sleep(200); // the spoolers' first scan (of an empty directory) is over
    const result = await fetchJson<Enqueued>(tsgi.port, enqueuePath(TASKS));
    await until(() => pendingTasks(dirs.spool) === 0, 'tsgi spoolers');
    await stopTsgi(tsgi);
    const marks = readSpoolerMarks(dirs.marks);
    if (marks.done !== TASKS) throw new Error(`tsgi end to end: the spoolers ran ${marks.done} tasks, expected ${TASKS}\n${tsgi.output()}`);
    return { rate: TASKS / ((marks.last - result.startedAt) / 1000), enqueueRate: TASKS / (result.ms / 1000) };
  } finally {
    await stopTsgi(tsgi);
    dirs.cleanup();
  }
}

/** Drain: TASKS task files appear while the spoolers sleep; one spool() wakes them. */
async function tsgiDrain(base: string, c: Consumers): Promise<number> {
  const dirs = runDirs(base);
  const stage = `${dirs.spool}-stage`;
  const tsgi = await startTsgi(spoolerArgs(dirs.spool, c), c.procs, dirs);
  try {
    await sleep(200);
    // The same bytes and names spool() writes; no fsync (untimed), then moved in at once.
    mkdirSync(stage);
    const names: string[] = [];
    for (let i = 0; i < TASKS; i++) {
      const name = spoolFileName();
      writeFileSync(join(stage, name), encodeSpoolFile({ n: String(i) }, null), { mode: 0o600 });
      names.push(name);
    }
    for (const name of names) renameSync(join(stage, name), join(dirs.spool, name));
    const wake = await fetchJson<Enqueued>(tsgi.port, '/enqueue?n=1');
    await until(() => pendingTasks(dirs.spool) === 0, 'tsgi spoolers');
    await stopTsgi(tsgi);
    const marks = readSpoolerMarks(dirs.marks);
    if (marks.done !== TASKS + 1) throw new Error(`tsgi drain: the spoolers ran ${marks.done} tasks, expected ${TASKS + 1}\n${tsgi.output()}`);
    return (TASKS + 1) / ((marks.last - wake.startedAt) / 1000);
  } finally {
    await stopTsgi(tsgi);
    dirs.cleanup();
    rmSync(stage, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------ BullMQ runs

interface RedisServer {
  child: ChildProcess;
  port: number;
  version: string;
  client: Redis;
}

async function startRedis(): Promise<RedisServer | undefined> {
  if (spawnSync('sh', ['-c', 'command -v redis-server']).status !== 0) return undefined;
  const port = await pickPort();
  const child = track('redis', spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'], { stdio: 'ignore', detached: true }), true);
  const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: null, lazyConnect: true, retryStrategy: () => null });
  client.on('error', () => {}); // refused until redis-server listens: connect() rejects, the loop retries
  for (let tries = 0; tries < 100; tries++) {
    try {
      await client.connect();
      await client.ping();
      const version = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.trim();
      return { child, port, version, client };
    } catch {
      await sleep(50);
    }
  }
  throw new Error('redis-server did not accept connections');
}

let queueCounter = 0;
function newQueue(redis: RedisServer): Queue {
  return new Queue(`bench${++queueCounter}`, { connection: redis.client, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } });
}

async function dropQueue(queue: Queue, redis: RedisServer): Promise<void> {
  await queue.close();
  await redis.client.flushall();
}

/** Adds TASKS jobs from this process: one `await add()` at a time, or addBulk by BULK. */
async function bullAdd(queue: Queue, bulk: boolean): Promise<void> {
  if (bulk) {
    for (let i = 0; i < TASKS; i += BULK) {
      await queue.addBulk(Array.from({ length: Math.min(BULK, TASKS - i) }, (_, j) => ({ name: 't', data: { n: i + j } })));
    }
    return;
  }
  for (let i = 0; i < TASKS; i++) {
    await queue.add('t', { n: i });
    if (EVERY > 0 && (i + 1) % EVERY === 0) await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Warms this process's add()/addBulk() path up once (tsgi warms each fresh worker up). */
async function bullWarmUp(redis: RedisServer): Promise<void> {
  const queue = newQueue(redis);
  try {
    for (let i = 0; i < WARMUP; i++) await queue.add('t', { n: i });
    for (let i = 0; i < WARMUP; i += BULK) await queue.addBulk(Array.from({ length: BULK }, (_, j) => ({ name: 't', data: { n: i + j } })));
  } finally {
    await dropQueue(queue, redis);
  }
}

async function bullEnqueue(redis: RedisServer, bulk: boolean): Promise<number> {
  const queue = newQueue(redis);
  try {
    await queue.waitUntilReady();
    const t0 = process.hrtime.bigint();
    await bullAdd(queue, bulk);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const waiting = await queue.getWaitingCount();
    if (waiting !== TASKS) throw new Error(`BullMQ enqueue: ${waiting} jobs waiting, expected ${TASKS}`);
    return TASKS / (ms / 1000);
  } finally {
    await dropQueue(queue, redis);
  }
}

interface BullWorkers {
  go: () => void;
  report: () => Promise<Marks>;
}

/** Starts c.procs Worker processes (not yet fetching) on `queue`. */
async function startBullWorkers(redis: RedisServer, queue: string, c: Consumers): Promise<BullWorkers> {
  const job: BullWorkerJob = { port: redis.port, queue, concurrency: c.conc };
  const procs = Array.from({ length: c.procs }, () => track('bullmq worker', spawn(process.execPath, [SELF, '--bull-worker', JSON.stringify(job)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })));
  await Promise.all(procs.map((child) => new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`BullMQ worker exited (${code}) before it was ready`)));
  })));
  return {
    go: () => procs.forEach((child) => child.send({ act: 'go' })),
    report: async () => {
      const none: Marks = { done: 0, first: Infinity, last: -Infinity };
      const all = await Promise.all(procs.map((child) => new Promise<Marks>((resolve) => {
        if (!child.connected) return resolve(none);
        child.once('message', (marks: Marks) => resolve(marks));
        child.once('exit', () => resolve(none));
        child.send({ act: 'report' });
      })));
      await Promise.all(procs.map((child) => exited(child)));
      return { done: all.reduce((s, m) => s + m.done, 0), first: Math.min(...all.map((m) => m.first)), last: Math.max(...all.map((m) => m.last)) };
    },
  };
}

async function bullIdle(queue: Queue): Promise<boolean> {
  const counts = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children');
  return Object.values(counts).every((count) => count === 0);
}

async function bullEndToEnd(redis: RedisServer, c: Consumers): Promise<{ rate: number; enqueueRate: number }> {
  const queue = newQueue(redis);
  let workers: BullWorkers | undefined;
  try {
    await queue.waitUntilReady();
    workers = await startBullWorkers(redis, queue.name, c);
    workers.go();
    await sleep(200); // the workers are blocked waiting for jobs, like idle spoolers
    const startedAt = now();
    const t0 = process.hrtime.bigint();
    await bullAdd(queue, false);
    const enqueueMs = Number(process.hrtime.bigint() - t0) / 1e6;
    await until(() => bullIdle(queue), 'BullMQ workers');
    const marks = await workers.report();
    workers = undefined;
    if (marks.done !== TASKS) throw new Error(`BullMQ end to end: the workers ran ${marks.done} jobs, expected ${TASKS}`);
    return { rate: TASKS / ((marks.last - startedAt) / 1000), enqueueRate: TASKS / (enqueueMs / 1000) };
  } finally {
    if (workers) await workers.report().catch(() => undefined);
    await dropQueue(queue, redis);
  }
}

async function bullDrain(redis: RedisServer, c: Consumers): Promise<number> {
  const queue = newQueue(redis);
  let workers: BullWorkers | undefined;
  try {
    await queue.waitUntilReady();
    await bullAdd(queue, true);
    workers = await startBullWorkers(redis, queue.name, c);
    const startedAt = now();
    workers.go();
    await until(() => bullIdle(queue), 'BullMQ workers');
    const marks = await workers.report();
    workers = undefined;
    if (marks.done !== TASKS) throw new Error(`BullMQ drain: the workers ran ${marks.done} jobs, expected ${TASKS}`);
    return TASKS / ((marks.last - startedAt) / 1000);
  } finally {
    if (workers) await workers.report().catch(() => undefined);
    await dropQueue(queue, redis);
  }
}

// ------------------------------------------------------------------------------ raw fs cost

/** µs per task-sized file for what spool() does: open(wx) + write + [fsync] + close + rename. */
function rawWrite(base: string, fsync: boolean): number {
  const dir = mkdtempSync(join(base, 'raw-'));
  const bytes = encodeSpoolFile({ n: '1234' }, null);
  try {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < RAW_FILES; i++) {
      const temp = join(dir, `.t${i}`);
      const fd = openSync(temp, 'wx', 0o600);
      writeSync(fd, bytes);
      if (fsync) fsyncSync(fd);
      closeSync(fd);
      renameSync(temp, join(dir, `f${i}`));
    }
    return Number(process.hrtime.bigint() - t0) / 1e3 / RAW_FILES;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------ orchestration


async function quietGate(): Promise<number> {
  const deadline = Date.now() + QUIET_WAIT_S * 1000;
  for (;;) {
    const busy = await machineBusy();
    if (busy < QUIET_PCT || Date.now() >= deadline) return busy;
  }
}

const results = new Map<string, number[]>();
const busyBefore = new Map<string, number[]>();
const record = (id: string, value: number, busy: number) => {
  results.set(id, [...(results.get(id) ?? []), value]);
  busyBefore.set(id, [...(busyBefore.get(id) ?? []), busy]);
};
const med = (id: string) => (results.has(id) ? median(results.get(id)!) : NaN);

async function main(): Promise<void> {
  const temps: string[] = [mkdtempSync(join(tmpdir(), 'tsgi-bench-spooler-'))];
  let tmpfsOk = false;
  try {
    tmpfsOk = TMPFS !== '' && statSync(TMPFS).isDirectory();
  } catch {
    tmpfsOk = false;
  }
  if (tmpfsOk) temps.push(mkdtempSync(join(TMPFS, 'tsgi-bench-spooler-')));
  const storages: Array<[string, string]> = [['disk', temps[0]!]];
  if (tmpfsOk) storages.push(['tmpfs', temps[1]!]);
  let redis: RedisServer | undefined;
  const cleanup = () => {
    killAllNow();
    for (const dir of temps) rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
  try {
    redis = await startRedis();
    if (redis === undefined) process.stderr.write('redis-server not found (apt-get install -y redis-server): measuring tsgi only\n');
    else await bullWarmUp(redis);
    const run = async (id: string, unit: string, measure: () => Promise<number>) => {
      const busy = await quietGate();
      const value = await measure();
      record(id, value, busy);
      process.stderr.write(`  ${id}: ${unit === 'µs' ? value.toFixed(1) : fmt(value)} ${unit} (machine ${busy.toFixed(0)} % busy before)\n`);
    };
    for (let round = 1; round <= ROUNDS; round++) {
      process.stderr.write(`round ${round}/${ROUNDS}\n`);
      // Without the fsync first: the fsync run's files, removed, leave the disk busy a while.
      for (const [storage, base] of FIGURES.has('raw') ? storages : []) {
        await run(`raw/${storage}/nofsync`, 'µs', async () => rawWrite(base, false));
        await run(`raw/${storage}/fsync`, 'µs', async () => rawWrite(base, true));
      }
      for (const [storage, base] of FIGURES.has('enqueue') ? storages : []) await run(`enqueue/tsgi-${storage}`, 'tasks/s', () => tsgiEnqueue(base));
      if (redis && FIGURES.has('enqueue')) {
        const r = redis;
        await run('enqueue/bull-seq', 'tasks/s', () => bullEnqueue(r, false));
        await run('enqueue/bull-bulk', 'tasks/s', () => bullEnqueue(r, true));
      }
      for (const c of CONSUMERS) {
        const label = consumersLabel(c);
        for (const [storage, base] of FIGURES.has('e2e') ? storages : []) {
          await run(`e2e/${label}/tsgi-${storage}`, 'tasks/s', async () => {
            const { rate, enqueueRate } = await tsgiEndToEnd(base, c);
            record(`e2e-enqueue/${label}/tsgi-${storage}`, enqueueRate, NaN);
            return rate;
          });
        }
        if (redis && FIGURES.has('e2e')) {
          const r = redis;
          await run(`e2e/${label}/bull`, 'tasks/s', async () => {
            const { rate, enqueueRate } = await bullEndToEnd(r, c);
            record(`e2e-enqueue/${label}/bull`, enqueueRate, NaN);
            return rate;
          });
        }
        for (const [storage, base] of FIGURES.has('drain') ? storages : []) await run(`drain/${label}/tsgi-${storage}`, 'tasks/s', () => tsgiDrain(base, c));
        if (redis && FIGURES.has('drain')) {
          const r = redis;
          await run(`drain/${label}/bull`, 'tasks/s', () => bullDrain(r, c));
        }
      }
    }
  } finally {
    if (redis) {
      redis.client.disconnect();
      redis.child.kill('SIGTERM');
      await exited(redis.child);
    }
    process.off('exit', cleanup);
    cleanup();
  }
  report(storages.map(([storage]) => storage), redis?.version);
}

function report(storages: string[], redisVersion: string | undefined): void {
  const lines: string[] = [];
  const tsgiCols = storages.map((s) => `tsgi ${s}`);
  lines.push(`| figure (${TASKS.toLocaleString('en')} tasks) | ${tsgiCols.join(' | ')} | BullMQ | ${storages.map((s) => `tsgi ${s} ÷ BullMQ`).join(' | ')} |`);
  lines.push(`|---|${tsgiCols.map(() => '---|').join('')}---|${storages.map(() => '---|').join('')}`);
  const row = (name: string, tsgiIds: string[], bullId: string) => {
    const tsgi = tsgiIds.map(med);
    const bull = med(bullId);
    if (tsgi.every(Number.isNaN) && Number.isNaN(bull)) return;
    lines.push(`| ${name} | ${tsgi.map(fmt).join(' | ')} | ${fmt(bull)} | ${tsgi.map((t) => ratio(t, bull)).join(' | ')} |`);
  };
  row('enqueue tasks/s, one process, vs `await add()` one at a time', storages.map((s) => `enqueue/tsgi-${s}`), 'enqueue/bull-seq');
  row(`enqueue tasks/s, one process, vs \`addBulk\` by ${BULK}`, storages.map((s) => `enqueue/tsgi-${s}`), 'enqueue/bull-bulk');
  for (const c of CONSUMERS) {
    const label = consumersLabel(c);
    const who = c.procs === 1 ? `1 spooler, --spooler-async ${c.conc} vs 1 Worker process, concurrency ${c.conc}` : `${c.procs} spoolers, --spooler-async ${c.conc} vs ${c.procs} Worker processes, concurrency ${c.conc}`;
    row(`end to end tasks/s, ${who}`, storages.map((s) => `e2e/${label}/tsgi-${s}`), `e2e/${label}/bull`);
    row(`… its enqueue part, tasks/s (BullMQ workers consume meanwhile; spoolers wake after it)`, storages.map((s) => `e2e-enqueue/${label}/tsgi-${s}`), `e2e-enqueue/${label}/bull`);
    row(`drain tasks/s (queued beforehand), ${label}`, storages.map((s) => `drain/${label}/tsgi-${s}`), `drain/${label}/bull`);
  }
  if (FIGURES.has('raw') && FIGURES.has('enqueue')) lines.push('', 'Where spool() time goes (medians, µs per task; raw = open(wx) + write + [fsync] + close + rename of the same bytes in this process):');
  for (const s of FIGURES.has('raw') && FIGURES.has('enqueue') ? storages : []) {
    const withSync = med(`raw/${s}/fsync`);
    const without = med(`raw/${s}/nofsync`);
    const spoolUs = 1e6 / med(`enqueue/tsgi-${s}`);
    lines.push(`- ${s}: spool() ${spoolUs.toFixed(1)}; raw ${withSync.toFixed(1)}, raw without fsync ${without.toFixed(1)}: the fsync is ${(withSync - without).toFixed(1)} µs, ${(((withSync - without) / spoolUs) * 100).toFixed(0)} % of spool(); spool() − raw = ${(spoolUs - withSync).toFixed(1)} (the rest: the call, encoding, naming)`);
  }
  if (FIGURES.has('enqueue') && storages.includes('disk') && storages.includes('tmpfs')) {
    const disk = 1e6 / med('enqueue/tsgi-disk');
    const tmpfs = 1e6 / med('enqueue/tsgi-tmpfs');
    lines.push(`- spool() on disk − on tmpfs: ${(disk - tmpfs).toFixed(1)} µs per task (${(((disk - tmpfs) / disk) * 100).toFixed(0)} % of the disk figure): the storage's share, mostly the fsync`);
  }
  lines.push('', `medians of ${ROUNDS} interleaved rounds; handler ${HANDLER}${EVERY > 0 ? `; enqueue loops yield every ${EVERY} tasks` : ''}; node ${process.version}; ${redisVersion ?? 'no redis-server'}; BullMQ ${bullVersion()}; ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}); runs per figure (machine busy % just before each):`);
  for (const [id, values] of results) {
    const busy = busyBefore.get(id)!;
    lines.push(`- ${id}: ${values.map((v, i) => `${id.startsWith('raw/') ? v.toFixed(1) : fmt(v)}${Number.isNaN(busy[i]!) ? '' : ` (${busy[i]!.toFixed(0)} %)`}`).join(', ')}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

function bullVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules/bullmq/package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

if (process.argv[2] === '--bull-worker') {
  bullWorkerChild(JSON.parse(process.argv[3]!) as BullWorkerJob).catch((error: unknown) => {
    process.stderr.write(`bullmq worker: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
} else if (process.argv[1] === SELF) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
