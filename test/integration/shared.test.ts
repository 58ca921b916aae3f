/**
 * The shared-memory api through real workers: a value one worker sets another reads, live
 * stats in uwsgi.workers() and the stats server, cache expiry, --cache-store across restarts,
 * the queue shared by the workers, and uwsgi.reload().
 */
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, readStats, sleep, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

const port = await pickPort();
const statsPort = await pickPort();
let server: Server;

test.before(async () => {
  server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'shared', '--master', '--processes', '2', '--cache', '100', '--cache-expire-freq', '0.5',
    '--queue', '16', '--stats', `127.0.0.1:${statsPort}`], { cwd: FIXTURE_APPS, ready: /all 2 workers ready/ });
});
test.after(async () => {
  await server.stop();
});

const get = (path: string, p = port) => httpGet({ port: p }, path);

/** Requests until one is answered by a worker whose pid differs from `not`. */
async function fromOtherWorker(path: string, not: string): Promise<{ body: string; pid: string }> {
  for (let i = 0; i < 200; i++) {
    const response = await get(path);
    const pid = String(response.headers['x-pid']);
    if (pid !== not) return { body: response.body, pid };
  }
  throw new Error('never reached the other worker');
}

test('a value set by one worker is read by another', async () => {
  const set = await get('/cache/set?k=pippo&v=pluto');
  assert.is(set.body, 'true');
  const other = await fromOtherWorker('/cache/get?k=pippo', String(set.headers['x-pid']));
  assert.is(other.body, 'pluto');
  assert.is((await get('/cache/set?k=pippo&v=other')).body, 'false', 'cache_set does not overwrite');
  assert.is((await get('/cache/update?k=pippo&v=other')).body, 'true');
  assert.is((await get('/cache/get?k=pippo')).body, 'other');
  assert.is((await get('/cache/del?k=pippo')).body, 'true');
  assert.is((await get('/cache/exists?k=pippo')).body, 'false');
});

test('expired items disappear once the master sweeps', async () => {
  await get('/cache/set?k=short&v=lived&e=1');
  assert.is((await get('/cache/get?k=short')).body, 'lived');
  await sleep(2200);
  assert.is((await get('/cache/get?k=short')).body, 'null');
});

test('the queue is shared: pushed by one worker, pulled in order by any', async () => {
  const first = await get('/queue/push?v=a');
  await get('/queue/push?v=b');
  await get('/queue/push?v=c');
  const pulled = [];
  for (let i = 0; i < 4; i++) pulled.push((await get('/queue/pull')).body);
  assert.equal(pulled, ['a', 'b', 'c', 'null']);
  assert.is(first.body, 'true');
});

test('workers(), total_requests() and the stats server report live figures', async () => {
  const before = Number((await get('/total')).body);
  for (let i = 0; i < 20; i++) await get('/pid');
  const after = Number((await get('/total')).body);
  assert.ok(after - before >= 21, `total grew by ${after - before}, 21 requests were sent`);
  const workers = JSON.parse((await get('/workers')).body) as Array<Record<string, number | string>>;
  assert.is(workers.length, 2);
  const sum = workers.reduce((total, worker) => total + (worker.requests as number), 0);
  assert.ok(sum >= after, 'per-worker requests add up to the total');
  for (const worker of workers) {
    assert.ok((worker.pid as number) > 0);
    assert.ok((worker.avg_rt as number) > 0);
    assert.ok((worker.tx as number) > 0);
  }
  await sleep(1100); // the master refreshes rss once a second
  const document = await readStats(statsPort) as { version: string; workers: Array<Record<string, number>>; caches: Array<Record<string, number>> };
  assert.ok(document.version);
  assert.is(document.workers.length, 2);
  assert.ok(document.workers.every((worker) => worker.rss > 0 && worker.requests > 0));
  assert.ok(document.workers.reduce((total, worker) => total + worker.requests, 0) >= after);
  assert.is(document.caches[0]!.max_items, 100);
});

test('uwsgi.reload() reloads the instance gracefully', async () => {
  const oldPid = (await get('/pid')).body;
  await get('/reload');
  await server.waitFor(/retired[\s\S]*retired/, 15_000);
  const pids = new Set<string>();
  for (let i = 0; i < 30; i++) pids.add((await get('/pid')).body);
  assert.not.ok(pids.has(oldPid));
});

test('--cache-store keeps the cache across a restart', async () => {
  const store = join(tempDir(), 'cache.store');
  const p = await pickPort();
  const args = ['--http-socket', `127.0.0.1:${p}`, '--module', 'shared', '--cache', '50', '--cache-blocksize', '1024', '--cache-store', store];
  const first = await startTsgi(args, { cwd: FIXTURE_APPS });
  assert.is((await get('/cache/set?k=kept&v=across-restarts', p)).body, 'true');
  await first.stop();
  const second = await startTsgi(args, { cwd: FIXTURE_APPS });
  try {
    assert.is((await get('/cache/get?k=kept', p)).body, 'across-restarts');
  } finally {
    await second.stop();
  }
});

test.run();
