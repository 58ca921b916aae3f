/**
 * Micro-benchmark of the green scheduler's own cost per request: a `Scheduler` whose threads are
 * a minimal `GreenThread` (output goes nowhere, complete() releases the core at once), driven
 * with `acquire()` + `thread.start(app, env, startResponse)` 1e6 times, against calling the
 * same app directly. Apps: a sync function returning one string, and a generator yielding 3
 * chunks. Runs are interleaved (direct, tsgi, direct, tsgi, …); prints the median ns/request of 5.
 *
 * Run: npx tsc -p . && node dist/bench/scheduler.bench.js   (bench/run.ts runs it as `scheduler`)
 */
import { Scheduler } from '../green/scheduler.js';
import { GreenThread, type Chunk } from '../green/thread.js';
import { median } from './common.js';

const REQUESTS = 1_000_000;
const RUNS = 5;

type Headers = Array<[string, string]>;
type StartResponse = (status: string, headers: Headers) => void;
type Env = Record<string, unknown>;

/** What the apps write and the threads receive: summed so V8 cannot drop any of it. */
let sink = 0;
let completed = 0;

class BenchThread extends GreenThread {
  protected emit(chunk: Chunk): boolean {
    sink += chunk.length;
    return true;
  }
  awaitDrain(): void {
    throw new Error('BenchThread never fills its output');
  }
  protected complete(last?: Chunk): void {
    if (last !== undefined) sink += last.length;
    completed++;
    this.release();
  }
  protected crash(error: unknown): void {
    this.release();
    throw error;
  }
  protected onHalt(): void {}
}

const HEADERS: Headers = [['Content-Type', 'text/plain']];
let status = '';
const startResponse: StartResponse = (s) => {
  status = s;
};
const env: Env = { REQUEST_METHOD: 'GET', PATH_INFO: '/' };

function syncApp(_env: Env, sr: StartResponse): string {
  sr('200 OK', HEADERS);
  return 'Hello World';
}

function* generatorApp(_env: Env, sr: StartResponse): Generator<string, void, unknown> {
  sr('200 OK', HEADERS);
  yield '<h1>One</h1>';
  yield '<h2>Two</h2>';
  yield '<h3>Three</h3>';
}

const scheduler = new Scheduler<BenchThread>(1, (s, index) => new BenchThread(s as unknown as Scheduler<GreenThread>, index));

function nsPerRequest(body: () => void): number {
  const start = process.hrtime.bigint();
  body();
  return Number(process.hrtime.bigint() - start) / REQUESTS;
}

const cases: Record<string, () => void> = {
  'sync, direct call': () => {
    for (let i = 0; i < REQUESTS; i++) sink += syncApp(env, startResponse).length;
  },
  'sync, green thread': () => {
    for (let i = 0; i < REQUESTS; i++) scheduler.acquire()!.start(syncApp as never, env, startResponse);
  },
  '3-chunk generator, direct for-of': () => {
    for (let i = 0; i < REQUESTS; i++) for (const chunk of generatorApp(env, startResponse)) sink += chunk.length;
  },
  '3-chunk generator, green thread': () => {
    for (let i = 0; i < REQUESTS; i++) scheduler.acquire()!.start(generatorApp as never, env, startResponse);
  },
};

const samples = new Map<string, number[]>(Object.keys(cases).map((name) => [name, []]));
for (const body of Object.values(cases)) nsPerRequest(body); // warm-up: let V8 optimise first
for (let run = 0; run < RUNS; run++) {
  for (const [name, body] of Object.entries(cases)) samples.get(name)!.push(nsPerRequest(body));
}
if (completed !== 2 * (RUNS + 1) * REQUESTS || scheduler.busyCount !== 0 || status !== '200 OK') {
  throw new Error(`bench threads misbehaved: ${completed} completed, ${scheduler.busyCount} busy`);
}

const med = Object.fromEntries([...samples].map(([name, values]) => [name, median(values)]));
const rows = [
  ['sync app (one string)', med['sync, direct call']!, med['sync, green thread']!, samples.get('sync, green thread')!],
  ['3-chunk generator', med['3-chunk generator, direct for-of']!, med['3-chunk generator, green thread']!, samples.get('3-chunk generator, green thread')!],
] as const;
console.log(`| app | direct call ns/req | green thread ns/req (acquire + start + release) | scheduler overhead ns/req | green runs (ns) |`);
console.log('|---|---|---|---|---|');
for (const [name, direct, green, runs] of rows) {
  console.log(`| ${name} | ${direct.toFixed(1)} | ${green.toFixed(1)} | ${(green - direct).toFixed(1)} | ${runs.map((v) => v.toFixed(0)).join(' ')} |`);
}
console.log(`\nmedian of ${RUNS} interleaved runs × ${REQUESTS} requests, after one warm-up run each; node ${process.version} (checksum: ${sink} bytes)`);
