/**
 * uWSGI signals across 2 workers: every target, handlers registered by every worker acting as
 * one registration, a handler only one worker holds, timers, rb timers, cron, file monitors.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, sleep, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

const markers = tempDir();
const watched = join(tempDir(), 'watched.txt');
const port = await pickPort();
let server: Server;

test.before(async () => {
  writeFileSync(watched, 'v1');
  server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'signals', '--master', '--processes', '2', '--async', '4'], {
    cwd: FIXTURE_APPS, env: { TSGI_TEST_MARKERS: markers, WATCH_PATH: watched }, ready: /all 2 workers ready/,
  });
});
test.after(async () => {
  await server.stop();
});

const lines = () => (existsSync(join(markers, 'signals.log')) ? readFileSync(join(markers, 'signals.log'), 'utf8').trim().split('\n') : []);
const count = (tag: string, worker?: number) => lines().filter((line) => line === `${tag} ${worker ?? line.split(' ')[1]}`).length;

async function raise(num: number): Promise<void> {
  assert.is((await httpGet({ port }, `/?raise=${num}`)).status, 200);
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end && !check();) await sleep(20);
}

test("target '' reaches one worker per raise, spread over the workers", async () => {
  for (let i = 0; i < 10; i++) await raise(1);
  await until(() => count('sig1') === 10);
  assert.is(count('sig1'), 10, 'one handler run per raise, not one per worker');
  assert.ok(count('sig1', 1) > 0 && count('sig1', 2) > 0, 'both workers took some');
});

test("targets 'workers', 'active-workers' and 'workerN'", async () => {
  await raise(2);
  await raise(4);
  await raise(3);
  await until(() => count('sig2') === 2 && count('sig4') === 2 && count('sig3') === 1);
  assert.is(count('sig2', 1), 1);
  assert.is(count('sig2', 2), 1);
  assert.is(count('sig4'), 2);
  assert.is(count('sig3', 2), 1, 'worker2 only');
  assert.is(count('sig3'), 1);
});

test('a handler registered by one worker only is still reached; a generator handler may sleep', async () => {
  for (let i = 0; i < 4; i++) await raise(6);
  await raise(5);
  await until(() => count('sig6') === 4 && count('sig5-after-sleep') === 1);
  assert.is(count('sig6', 2), 4);
  assert.is(count('sig5-after-sleep'), 1);
});

test('a signal nobody registered is logged and dropped', async () => {
  await raise(77);
  await server.waitFor(/signal 77 has no handler registered: dropped/);
});

test('add_timer(10, 1) from both workers fires once a second (±20% over 5 s); rb timer stops after 3', async () => {
  const from = count('sig10');
  await sleep(5000);
  const fired = count('sig10') - from;
  assert.ok(fired >= 4 && fired <= 6, `timer fired ${fired} times in 5 s`);
  assert.is(count('sig11'), 3, 'add_rb_timer(11, 0.3, 3) fired exactly 3 times');
});

test('add_file_monitor fires when the file changes', async () => {
  const before = count('sig12');
  writeFileSync(watched, 'v2');
  await until(() => count('sig12') > before);
  assert.ok(count('sig12') > before);
});

test('add_cron(13, -1, -1, -1, -1, -1) fires once in every minute', async () => {
  const pastNextMinute = () => sleep(60_000 - (Date.now() % 60_000) + 2000);
  await until(() => count('sig13') >= 1, 2500);
  assert.ok(count('sig13') >= 1, 'fired in the first minute');
  await pastNextMinute(); // 2 s into a minute: its fire has happened
  const fired = count('sig13');
  await pastNextMinute();
  assert.is(count('sig13'), fired + 1, 'fired exactly once in the following minute');
});

test.run();
