/**
 * The master FIFO: every supported one-byte command, written into the FIFO by the test, with
 * what it visibly does (new worker pids, a bigger pool, a log line, an exit, a rewritten
 * pidfile, another FIFO read), and the unsupported ones saying so.
 */
import { existsSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hammer } from '../helpers/load.js';
import { pickPort } from '../helpers/ports.js';
import { FIXTURE_APPS, httpGet, readStats, sleep, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';

interface Instance {
  server: Server;
  port: number;
  statsPort: number;
  fifo: string;
  dir: string;
  /** Writes `bytes` into the active FIFO (the master holds it open, so this never blocks). */
  send(bytes: string, path?: string): void;
}

async function start(extra: string[] = [], processes = 2): Promise<Instance> {
  const port = await pickPort();
  const statsPort = await pickPort();
  const dir = tempDir();
  const fifo = join(dir, 'fifo0');
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'green', '--master', '--processes', String(processes), '--async', '10', '--stats', `127.0.0.1:${statsPort}`, '--master-fifo', fifo, ...extra], { cwd: FIXTURE_APPS, ready: new RegExp(`all ${processes} workers ready`) });
  return { server, port, statsPort, fifo, dir, send: (bytes, path = fifo) => writeFileSync(path, bytes) };
}

async function workerPids(statsPort: number): Promise<number[]> {
  const stats = await readStats(statsPort);
  return (stats.workers as Array<{ pid: number }>).map((worker) => worker.pid);
}

test('the FIFO exists at start as a named pipe, and is removed at exit', async () => {
  const { server, fifo } = await start();
  assert.ok(statSync(fifo).isFIFO());
  await server.stop();
  assert.not.ok(existsSync(fifo));
});

test('r: graceful reload (every worker replaced, not one request fails); w: the workers only', async () => {
  const { server, statsPort, port, send } = await start();
  try {
    const before = await workerPids(statsPort);
    const load = hammer(port);
    send('r');
    await server.waitFor(/master FIFO r: graceful reload\n[\s\S]*(retired[\s\S]*){2}/, 20_000);
    const { failed, done } = await load.stop();
    assert.is(failed, 0, `${failed} of ${done + failed} failed`);
    const afterR = await workerPids(statsPort);
    for (const pid of afterR) assert.not.ok(before.includes(pid));
    send('w\n');
    await server.waitFor(/master FIFO w: graceful reload of the workers\n[\s\S]*(generation 1 retired[\s\S]*){2}/, 20_000);
    for (const pid of await workerPids(statsPort)) assert.not.ok(afterR.includes(pid));
  } finally {
    await server.stop();
  }
});

test('R and W: brutal reloads kill the workers (an in-flight request is cut) and spawn a new generation', async () => {
  const { server, statsPort, port, send } = await start();
  try {
    const before = await workerPids(statsPort);
    const inflight = httpGet({ port, host: '127.0.0.1' }, '/sleep?s=5').then(() => 'answered', () => 'cut');
    await sleep(200);
    send('R');
    await server.waitFor(/master FIFO R: brutal reload\n[\s\S]*brutal reload: killing the 2 worker\(s\), spawning generation 1/);
    assert.is(await inflight, 'cut', 'a brutal reload does not wait for requests');
    await server.waitFor(/(ready \(pid[\s\S]*){4}/, 20_000);
    const afterR = await workerPids(statsPort);
    for (const pid of afterR) assert.not.ok(before.includes(pid));
    send('W');
    await server.waitFor(/master FIFO W: brutal reload of the workers[\s\S]*spawning generation 2[\s\S]*(ready \(pid[\s\S]*){2}/, 20_000);
    await sleep(200);
    for (const pid of await workerPids(statsPort)) assert.not.ok(afterR.includes(pid));
  } finally {
    await server.stop();
  }
});

test('c: chain reload, one worker at a time', async () => {
  const { server, send } = await start([], 3);
  try {
    send('c');
    await server.waitFor(/master FIFO c: chain reload\n[\s\S]*chain reload: replacing the 3 worker\(s\) one at a time/);
    await server.waitFor(/(retired[\s\S]*){3}/, 30_000);
    const log = server.log().slice(server.log().indexOf('chain reload:'));
    const spawns = [...log.matchAll(/spawned worker \d+ \(pid (\d+)\)/g)];
    for (let i = 1; i < spawns.length; i++) assert.ok(log.indexOf(`ready (pid ${spawns[i - 1]![1]})`) < spawns[i]!.index!, 'the next spawns only once the previous one is ready');
  } finally {
    await server.stop();
  }
});

test('+ and -: a worker more, then one fewer (it finishes first); - never goes below one', async () => {
  const { server, statsPort, port, send } = await start([], 2);
  try {
    send('+');
    await server.waitFor(/master FIFO \+: added worker 3 \(3 now\)/);
    await server.waitFor(/(ready \(pid[\s\S]*){3}/);
    assert.is((await workerPids(statsPort)).length, 3);
    const pids = new Set<string>();
    for (let i = 0; i < 150 && pids.size < 3; i++) pids.add((await httpGet({ port, host: '127.0.0.1' }, '/pid')).body);
    assert.is(pids.size, 3, 'three workers answer');
    send('-');
    await server.waitFor(/master FIFO -: retiring worker 3 \(2 now\)[\s\S]*worker 3 \(pid \d+\) stopped/);
    assert.is((await workerPids(statsPort)).length, 2);
    send('-');
    await server.waitFor(/master FIFO -: retiring worker 2 \(1 now\)/);
    send('-');
    await server.waitFor(/master FIFO -: 1 worker\(s\) already, the fewest there can be/);
  } finally {
    await server.stop();
  }
});

test('s prints the stats document in one line; l reopens the log files; P rewrites the pidfile; unknown bytes are not supported', async () => {
  const dir = tempDir();
  const pidfile = join(dir, 'tsgi.pid');
  const { server, send } = await start(['--pidfile', pidfile]);
  try {
    send('s');
    const [, json] = await server.waitFor(/master FIFO s: (\{.*\})\n/);
    const stats = JSON.parse(json!) as { pid: number; workers: unknown[] };
    assert.is(stats.pid, server.pid);
    assert.is(stats.workers.length, 2);
    send('l');
    await server.waitFor(/master FIFO l: log files reopened \(stderr\)/);
    unlinkSync(pidfile);
    send('P');
    await server.waitFor(/master FIFO P: wrote pid \d+ to/);
    assert.is(readFileSync(pidfile, 'utf8').trim(), String(server.pid));
    send('pE\x01');
    await server.waitFor(/master FIFO command p is not supported\n.*master FIFO command E is not supported\n.*master FIFO command \\x01 is not supported/);
  } finally {
    await server.stop();
  }
});

test('1 switches to the second FIFO (the first is removed); f makes the active one afresh', async () => {
  const dir = tempDir();
  const second = join(dir, 'fifo1');
  const { server, send, fifo } = await start(['--master-fifo', second]);
  try {
    assert.not.ok(existsSync(second), 'only the active FIFO exists');
    send('1');
    await server.waitFor(/master FIFO 1: now reading .*fifo1/);
    assert.ok(statSync(second).isFIFO());
    assert.not.ok(existsSync(fifo), 'the previous FIFO is gone, so no writer blocks on it');
    send('7', second);
    await server.waitFor(/master FIFO 7: no such slot \(2 --master-fifo given\)/);
    send('f', second);
    await server.waitFor(/master FIFO f: .*fifo1 reopened/);
    assert.ok(statSync(second).isFIFO(), 'made afresh at the same path');
    send('l', second);
    await server.waitFor(/master FIFO l: log files reopened/);
  } finally {
    await server.stop();
  }
});

test('q: graceful shutdown (the in-flight request finishes, exit 0); Q: brutal (it is cut)', async () => {
  const graceful = await start();
  const answer = httpGet({ port: graceful.port, host: '127.0.0.1' }, '/sleep?s=1');
  await sleep(200);
  graceful.send('q');
  assert.is(await graceful.server.exited, 0);
  assert.is((await answer).body, 'slept\n');
  assert.match(graceful.server.log(), /master FIFO q: graceful shutdown/);
  const brutal = await start();
  const cut = httpGet({ port: brutal.port, host: '127.0.0.1' }, '/sleep?s=5').then(() => 'answered', () => 'cut');
  await sleep(200);
  const started = Date.now();
  brutal.send('Q');
  assert.is(await brutal.server.exited, 0);
  assert.is(await cut, 'cut');
  assert.ok(Date.now() - started < 3000, 'Q does not wait for the request');
  assert.match(brutal.server.log(), /master FIFO Q: stopping everything now/);
});

test('a --master-fifo that cannot be made stops the boot with TSGI_ERR_FIFO_CREATE', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'green', '--master', '--master-fifo', '/nonexistent-dir/fifo'], { cwd: FIXTURE_APPS, ready: null });
  assert.is(await server.exited, 1);
  assert.match(server.log(), /TSGI_ERR_FIFO_CREATE: --master-fifo \/nonexistent-dir\/fifo/);
  assert.not.match(server.log(), /spawned worker/);
});

test.run();
