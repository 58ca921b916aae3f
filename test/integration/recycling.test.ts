/**
 * Recycling under load (semantics.md §9): --max-requests, --max-worker-lifetime and
 * --reload-on-rss replace a worker without failing a single request (the replacement is ready
 * before the old worker stops accepting and finishes what it serves), the deltas spread the
 * recycles over the workers, and --evil-reload-on-rss kills.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, runTsgi, sleep, startTsgi, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

/** The pid and worker id in a response of test/apps/recycling.js. */
function servedBy(body: string): { pid: number; worker: number } {
  const match = /^pid (\d+) worker (\d+)$/.exec(body);
  if (match === null) throw new Error(`unexpected body ${JSON.stringify(body)}`);
  return { pid: Number(match[1]), worker: Number(match[2]) };
}

/** `clients` request loops until `done()`: every response must be a 200; returns requests per pid. */
async function load(server: Server, port: number, clients: number, done: (served: number) => boolean): Promise<Map<number, { worker: number; requests: number }>> {
  const byPid = new Map<number, { worker: number; requests: number }>();
  let served = 0;
  const loop = async () => {
    while (!done(served)) {
      const response = await httpGet({ port }, '/');
      assert.is(response.status, 200, `request ${served + 1} failed: ${response.status} ${response.body}\n${server.log()}`);
      const { pid, worker } = servedBy(response.body);
      const entry = byPid.get(pid) ?? { worker, requests: 0 };
      entry.requests++;
      byPid.set(pid, entry);
      served++;
    }
  };
  await Promise.all(Array.from({ length: clients }, loop));
  return byPid;
}

function count(log: string, pattern: RegExp): number {
  return log.match(new RegExp(pattern.source, 'g'))?.length ?? 0;
}

test('--max-requests recycles each worker after its N + (id-1) × delta requests under load, with no failed request', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'recycling', '--master', '--processes', '2',
    '--max-requests', '50', '--max-requests-delta', '10', '--min-worker-lifetime', '0', '--disable-logging'], { cwd: FIXTURE_APPS, ready: /all 2 workers ready/ });
  try {
    const started = Date.now();
    // 300 requests at least, and on until each worker was recycled twice (a replacement takes a while to boot on a busy machine).
    const byPid = await load(server, port, 3, (served) => served >= 300 && (count(server.log(), /Seeya/) >= 4 || Date.now() - started > 30_000));
    const log = server.log();
    assert.ok(count(log, /\(worker 1\) is done \(max requests reached \(50 >= 50\)\)\. Seeya!/) >= 2, log);
    assert.ok(count(log, /\(worker 2\) is done \(max requests reached \(60 >= 60\)\)\. Seeya!/) >= 2, log);
    assert.ok(byPid.size >= 4, `requests were served by ${byPid.size} pids only:\n${log}`);
    for (const [pid, { worker, requests }] of byPid) {
      const recycled = log.includes(`...The work of process ${pid} `);
      // A recycled worker served its whole budget first (and perhaps more, until its replacement was ready).
      if (recycled) assert.ok(requests >= (worker === 1 ? 50 : 60), `worker ${worker} (pid ${pid}) was recycled after ${requests} requests`);
    }
    assert.not.match(log, /died|respawning|killing/);
  } finally {
    assert.is(await server.stop(), 0);
  }
});

test('--max-worker-lifetime recycles under load with no failed request, worker 2 later than worker 1 (--max-worker-lifetime-delta)', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'recycling', '--master', '--processes', '2',
    '--max-worker-lifetime', '3', '--max-worker-lifetime-delta', '3', '--disable-logging'], { cwd: FIXTURE_APPS, ready: /all 2 workers ready/ });
  try {
    const seen: Record<number, number> = {};
    const started = Date.now();
    const byPid = await load(server, port, 2, () => {
      for (const worker of [1, 2]) if (seen[worker] === undefined && server.log().includes(`worker ${worker} lifetime reached`)) seen[worker] = Date.now();
      return (seen[1] !== undefined && seen[2] !== undefined && Date.now() - seen[2] > 1000) || Date.now() - started > 30_000;
    });
    const log = server.log();
    assert.match(log, /worker 1 lifetime reached, it was running for 3 second\(s\)/);
    assert.match(log, /worker 2 lifetime reached, it was running for 6 second\(s\)/);
    // Worker 2 may live 3 s more: with both spawned together, its first recycle comes about 3 s after worker 1's.
    assert.ok(seen[2]! - seen[1]! >= 1500, `worker 1 recycled at +${seen[1]! - started} ms, worker 2 at +${seen[2]! - started} ms:\n${log}`);
    assert.ok(byPid.size >= 3, `served by ${byPid.size} pids:\n${log}`);
    assert.not.match(log, /died|respawning|killing/);
  } finally {
    assert.is(await server.stop(), 0);
  }
});

test('--reload-on-rss: a worker that keeps memory is recycled gracefully (its request finished, a new pid serves)', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'recycling', '--master', '--processes', '1',
    '--reload-on-rss', '120', '--min-worker-lifetime', '0'], { cwd: FIXTURE_APPS, ready: /all 1 workers ready/ });
  try {
    const before = servedBy((await httpGet({ port }, '/')).body);
    await sleep(1500);
    assert.not.match(server.log(), /reload-on-rss limit reached/, 'a fresh worker is well below 120 MB');
    const hog = await httpGet({ port }, '/hog?mb=150');
    assert.is(hog.status, 200);
    assert.is(servedBy(hog.body).pid, before.pid);
    await server.waitFor(new RegExp(`The work of process ${before.pid} \\(worker 1\\) is done \\(reload-on-rss limit reached \\(\\d+ MB >= 120 MB\\)\\)\\. Seeya!`));
    await server.waitFor(new RegExp(`worker 1 \\(pid ${before.pid}\\) stopped \\(exit code 0\\)`));
    const after = servedBy((await httpGet({ port }, '/')).body);
    assert.is.not(after.pid, before.pid);
    assert.not.match(server.log(), /died|killing/);
  } finally {
    assert.is(await server.stop(), 0);
  }
});

test('--evil-reload-on-rss: a worker that keeps memory is killed at once and respawned', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'recycling', '--master', '--processes', '1',
    '--evil-reload-on-rss', '120'], { cwd: FIXTURE_APPS, ready: /all 1 workers ready/ });
  try {
    const before = servedBy((await httpGet({ port }, '/')).body);
    assert.is((await httpGet({ port }, '/hog?mb=150')).status, 200);
    await server.waitFor(new RegExp(`worker 1 \\(pid ${before.pid}\\): evil-reload-on-rss limit reached \\(\\d+ MB >= 120 MB\\): killing it \\(SIGKILL\\)`));
    await server.waitFor(new RegExp(`worker 1 \\(pid ${before.pid}\\) died \\(signal SIGKILL\\)`));
    await server.waitFor(/ready \(pid/, 10_000);
    let after = before;
    for (let tries = 0; after.pid === before.pid && tries < 50; tries++) {
      const response = await httpGet({ port }, '/').catch(() => null);
      if (response?.status === 200) after = servedBy(response.body);
      else await sleep(100);
    }
    assert.is.not(after.pid, before.pid, server.log());
  } finally {
    assert.is(await server.stop(), 0);
  }
});

test('recycling options need a master: without one tsgi refuses to start and names the option', async () => {
  const { code, output } = await runTsgi(['--http-socket', '127.0.0.1:0', '--module', 'recycling', '--max-requests', '10'], { cwd: FIXTURE_APPS });
  assert.is(code, 1);
  assert.match(output, /--max-requests needs a master to replace the worker: add --master/);
});

test.run();
