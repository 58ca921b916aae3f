/**
 * What the api sends the master, from worker_threads (relayed by their process's main thread):
 * uWSGI signals and timers, RPC between threads over the uwsgi socket, spooler tasks queued
 * from every thread. One process × 3 threads, a spooler, real sockets.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, sleep, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

const markers = tempDir();
const spool = tempDir();
let server: Server;
let httpPort: number;
let uwsgiPort: number;

test.before(async () => {
  httpPort = await pickPort();
  uwsgiPort = await pickPort();
  server = await startTsgi([
    '--http-socket', `127.0.0.1:${httpPort}`, '--socket', `127.0.0.1:${uwsgiPort}`, '--wsgi-file', 'threads-api.js',
    '--master', '--threads', '3', '--async', '4', '--spooler', spool, '--disable-logging',
  ], { cwd: FIXTURE_APPS, env: { TSGI_TEST_MARKERS: markers }, ready: /all 1 workers ready/, timeoutMs: 30_000 });
});
test.after(async () => {
  assert.is(await server.stop(), 0);
});

const lines = (name: string) => (existsSync(join(markers, name)) ? readFileSync(join(markers, name), 'utf8').trim().split('\n').filter(Boolean) : []);

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (check()) return;
  throw new Error(`${what}:\n${server.log()}`);
}

test('a signal raised from a thread runs its handler in one thread of the process', async () => {
  for (let i = 0; i < 6; i++) await httpGet({ port: httpPort }, '/raise');
  await until(() => lines('raised.log').length === 6, 'six raises, six handler runs');
  await sleep(300);
  assert.is(lines('raised.log').length, 6, 'each raise ran once, not once per thread');
  assert.ok(lines('raised.log').every((line) => /^thread [0-2] pid \d+$/.test(line)));
});

test('a timer added from a thread raises its signal once a second for the process, not once per thread', async () => {
  await Promise.all([1, 2, 3, 4, 5, 6].map(() => httpGet({ port: httpPort }, '/timer'))); // every thread asks
  const start = lines('signals.log').length;
  await sleep(3500);
  const fired = lines('signals.log').length - start;
  assert.ok(fired >= 2 && fired <= 5, `${fired} handler runs in 3.5 s:\n${lines('signals.log').join('\n')}`);
});

test('RPC over the uwsgi socket: a thread calls a function another thread (or itself) registered', async () => {
  const answers = new Set<string>();
  for (let i = 0; i < 10; i++) {
    const body = (await httpGet({ port: httpPort }, `/rpc?node=127.0.0.1:${uwsgiPort}`)).body;
    assert.match(body, /^thread [0-2] pid \d+ answered thread [0-2] pid \d+$/, body);
    answers.add(body.split(' answered ')[0]!);
  }
  assert.ok(answers.size >= 1);
});

test('spooler tasks queued from every thread all run', async () => {
  const from = new Set<string>();
  for (let i = 0; i < 9; i++) from.add((await httpGet({ port: httpPort }, `/spool?id=t${i}`)).body);
  await until(() => lines('spooled.log').length === 9, 'nine tasks spooled, nine run');
  assert.equal(lines('spooled.log').map((line) => line.split(' ')[0]).sort(), Array.from({ length: 9 }, (_, i) => `t${i}`));
  assert.ok(from.size >= 1);
});

test.run();
