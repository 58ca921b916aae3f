/**
 * The shared api across worker_threads: the cache and the queue written in one thread are read
 * in another, and a thread that dies (or hangs until harakiri terminates it) holding the cache
 * lock does not wedge its siblings: its process takes the lock over and the next user repairs.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, startTsgi, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

let server: Server;
let port: number;

test.before(async () => {
  port = await pickPort();
  server = await startTsgi([
    '--http-socket', `127.0.0.1:${port}`, '--wsgi-file', 'threads.js', '--master', '--processes', '1', '--threads', '4',
    '--cache', '100', '--queue', '10', '--harakiri', '1', '--disable-logging',
  ], { cwd: FIXTURE_APPS, ready: /all 1 workers ready/, timeoutMs: 30_000 });
});
test.after(async () => {
  await server.stop();
});

const who = (body: string) => /thread (\d+)/.exec(body)![1]!;

/** Sends `path` 4 times at once (so the copies land on different threads) until a thread other than `not` answers. */
async function fromAnotherThread(path: string, not: string): Promise<string> {
  for (let round = 0; round < 20; round++) {
    const bodies = await Promise.all(Array.from({ length: 4 }, () => httpGet({ port }, path).then((response) => response.body)));
    const other = bodies.find((body) => who(body) !== not);
    if (other !== undefined) return other;
  }
  throw new Error(`only thread ${not} answered ${path}:\n${server.log()}`);
}

test('a cache value set in one thread is read in another', async () => {
  const set = (await httpGet({ port }, '/cache/set?k=colour&v=teal')).body;
  assert.match(set, /^true thread \d/);
  const read = await fromAnotherThread('/cache/get?k=colour', who(set));
  assert.match(read, /^teal thread \d/);
});

test('a queue item pushed in one thread is seen in another, and pulled', async () => {
  const pushed = (await httpGet({ port }, '/queue/push?v=parcel')).body;
  assert.match(pushed, /^true thread \d/);
  // queue_last reads without taking: the item stays for the threads that are not the pusher.
  assert.match(await fromAnotherThread('/queue/last', who(pushed)), /^parcel thread \d/);
  assert.match((await httpGet({ port }, '/queue/pull')).body, /^parcel thread \d/);
});

test('a thread that exits holding the cache lock: its process takes the lock over, the next write repairs, a new thread serves', async () => {
  const repairsBefore = Number((await httpGet({ port }, '/repairs')).body);
  await httpGet({ port }, '/die-holding-lock').catch(() => 'connection closed');
  await server.waitFor(/\[worker 1\] thread \d died holding the cache lock: taken over, repaired on next use/);
  await server.waitFor(/\[worker 1\] thread \d exited with code 3: respawning/);
  const set = await Promise.race([httpGet({ port }, '/cache/set?k=after&v=exit'), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('cache_set hung on the dead thread\'s lock')), 5000))]);
  assert.match(set.body, /^true/);
  assert.ok(Number((await httpGet({ port }, '/repairs')).body) > repairsBefore, 'the cache was repaired');
  assert.match((await httpGet({ port }, '/cache/get?k=colour')).body, /^teal/, 'what was there survives the repair');
});

test('a thread stuck holding the cache lock is terminated by harakiri, the lock repaired, the siblings never stopped serving', async () => {
  const repairsBefore = Number((await httpGet({ port }, '/repairs')).body);
  const stuck = httpGet({ port }, '/hang-holding-lock').then(() => 'answered', () => 'connection closed');
  // While it hangs, the other threads serve what does not need the cache.
  for (let i = 0; i < 5; i++) assert.is((await httpGet({ port }, '/')).status, 200);
  await server.waitFor(/HARAKIRI ON WORKER 1 THREAD \d \(pid \d+\): its event loop has been stuck [\d.]+ s > --harakiri 1 s: terminating the thread/, 10_000);
  await server.waitFor(/\[worker 1\] thread \d terminated in [\d.]+ ms \(harakiri\)/);
  assert.is(await stuck, 'connection closed');
  const set = (await httpGet({ port }, '/cache/update?k=after&v=harakiri')).body;
  assert.match(set, /^true/, `${set}\n${server.log()}`);
  assert.ok(Number((await httpGet({ port }, '/repairs')).body) > repairsBefore, 'the cache was repaired');
});

test.run();
