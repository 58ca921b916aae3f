/**
 * --threads against real processes: 2 processes × 4 threads all serve, CPU-bound requests run
 * at the same time on different threads (a control with one thread shows the bound can fail),
 * module state is per thread, and workers() and --stats show each worker's threads.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, readStats, runTsgi, sleep, startTsgi, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

interface Running {
  port: number;
  statsPort: number;
  server: Server;
}

async function start(processes: number, threads: number, extra: string[] = []): Promise<Running> {
  const port = await pickPort();
  const statsPort = await pickPort();
  const server = await startTsgi([
    '--http-socket', `127.0.0.1:${port}`, '--wsgi-file', 'threads.js', '--master', '--processes', String(processes),
    '--threads', String(threads), '--stats', `127.0.0.1:${statsPort}`, '--disable-logging', ...extra,
  ], { cwd: FIXTURE_APPS, ready: new RegExp(`all ${processes} workers ready`), timeoutMs: 30_000 });
  return { port, statsPort, server };
}

/** `thread T worker W pid P served N` → "W/T". */
function whoServed(body: string): string {
  const match = /thread (\d+) worker (\d+)/.exec(body);
  assert.ok(match, `unexpected body ${JSON.stringify(body)}`);
  return `${match[2]}/${match[1]}`;
}

/** Eight requests at once, each busy-waiting `ms` of wall time on its thread; resolves with the wall time and who served. */
async function spinTogether(port: number, ms: number): Promise<{ wallMs: number; served: string[] }> {
  const started = performance.now();
  const bodies = await Promise.all(Array.from({ length: 8 }, () => httpGet({ port }, `/spin?ms=${ms}`)));
  const wallMs = performance.now() - started;
  for (const response of bodies) assert.is(response.status, 200);
  return { wallMs, served: bodies.map((response) => whoServed(response.body)) };
}

test('2 processes × 4 threads: 8 CPU-bound requests of 500 ms run at once on 8 threads, well under the 4 s one thread needs', async () => {
  const threaded = await start(2, 4);
  const single = await start(1, 1);
  try {
    const together = await spinTogether(threaded.port, 500);
    const alone = await spinTogether(single.port, 500);
    // One thread serves them one after the other: at least 8 × 0.5 s (the control: the bound below can fail).
    assert.ok(alone.wallMs >= 3900, `one thread took ${alone.wallMs.toFixed(0)} ms for 8 × 500 ms`);
    // On 2 cores the 8 busy threads share the CPU, but each one's 500 ms of wall time runs at once.
    assert.ok(together.wallMs < 2500, `8 threads took ${together.wallMs.toFixed(0)} ms (served by ${together.served.join(', ')}):\n${threaded.server.log()}`);
    assert.ok(new Set(together.served).size >= 6, `served by ${together.served.join(', ')}`);
  } finally {
    await Promise.all([threaded.server.stop(), single.server.stop()]);
  }
});

test('every thread of every process serves: all 8 (worker, thread) pairs answer, with per-thread module state', async () => {
  const { port, server } = await start(2, 4);
  try {
    const seen = new Set<string>();
    for (let round = 0; round < 20 && seen.size < 8; round++) {
      for (const who of (await spinTogether(port, 100)).served) seen.add(who);
    }
    assert.equal([...seen].sort(), ['1/0', '1/1', '1/2', '1/3', '2/0', '2/1', '2/2', '2/3'], server.log());
    // Each thread imported the app itself: its module-level counter counts only its own requests.
    const counts = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const body = (await httpGet({ port }, '/')).body;
      const served = Number(/served (\d+)/.exec(body)![1]);
      const who = whoServed(body);
      assert.ok(served > (counts.get(who) ?? 0), `thread ${who}: counter went from ${counts.get(who)} to ${served}`);
      counts.set(who, served);
    }
  } finally {
    await server.stop();
  }
});

test('--stats lists each worker\'s threads as its cores and workers() has a threads row per thread; counts add up to the worker\'s', async () => {
  const { port, statsPort, server } = await start(2, 4, ['--enable-threads']);
  try {
    for (let round = 0; round < 4; round++) await spinTogether(port, 50);
    await sleep(600); // the supervisor sums its threads' counters into the worker's slot 5 times a second
    const stats = await readStats(statsPort);
    const workers = stats.workers as Array<{ id: number; requests: number; cores: Array<{ id: number; thread: number; requests: number; cores: number; in_request: number }> }>;
    assert.is(workers.length, 2);
    let total = 0;
    for (const worker of workers) {
      assert.equal(worker.cores.map((core) => core.thread), [0, 1, 2, 3]);
      assert.equal(worker.cores.map((core) => core.id), [0, 1, 2, 3]);
      assert.ok(worker.cores.every((core) => core.cores === 1 && core.in_request === 0));
      assert.is(worker.cores.reduce((sum, core) => sum + core.requests, 0), worker.requests, JSON.stringify(worker));
      total += worker.requests;
    }
    assert.is(total, 32);
    const rows = JSON.parse((await httpGet({ port }, '/workers')).body) as Array<{ requests: number; threads: Array<{ id: number; requests: number; status: string }> }>;
    assert.equal(rows.map((row) => row.threads.map((thread) => thread.id)), [[0, 1, 2, 3], [0, 1, 2, 3]]);
    assert.ok(rows.flatMap((row) => row.threads).some((thread) => thread.status === 'busy'), 'the thread answering /workers is busy');
    assert.is(rows.flatMap((row) => row.threads).reduce((sum, thread) => sum + thread.requests, 0), 32);
  } finally {
    await server.stop();
  }
});

test('--threads without --master serves from threads of the single process; --threads 0 is refused with the option named', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--wsgi-file', 'threads.js', '--threads', '3', '--disable-logging'], { cwd: FIXTURE_APPS, ready: /3 threads/ });
  try {
    const seen = new Set<string>();
    for (let round = 0; round < 10 && seen.size < 3; round++) for (const who of (await spinTogether(port, 100)).served) seen.add(who);
    assert.equal([...seen].sort(), ['1/0', '1/1', '1/2']);
  } finally {
    assert.is(await server.stop('SIGINT'), 0);
  }
  const refused = await runTsgi(['--http-socket', '127.0.0.1:0', '--wsgi-file', 'threads.js', '--threads', '0'], { cwd: FIXTURE_APPS });
  assert.is.not(refused.code, 0);
  assert.match(refused.output, /--threads/);
});

test('an app that cannot load in a thread stops the instance as without threads: the thread says why, the worker exits 22', async () => {
  const { code, output } = await runTsgi(['--http-socket', '127.0.0.1:0', '--wsgi-file', 'broken.js', '--master', '--threads', '2'], { cwd: FIXTURE_APPS });
  assert.is(code, 1);
  assert.match(output, /worker 1 thread \d: TSGI_ERR_APP_LOAD: importing \S+broken\.js failed/);
  assert.match(output, /worker 1 could not load the app \(exit code 22\): shutting down/);
});

test.run();
