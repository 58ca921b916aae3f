/**
 * --harakiri against real processes: a worker stuck in a busy loop is killed by the master
 * (with its JS stack under --harakiri-verbose) and respawned; a parked async request is halted
 * alone (finally run, 504) while the other cores serve; stats count both.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, readStats, sleep, startTsgi, tempDir } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

async function start(extra: string[], env: NodeJS.ProcessEnv = {}) {
  const port = await pickPort();
  const statsPort = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'harakiri', '--master', '--stats', `127.0.0.1:${statsPort}`, ...extra], {
    cwd: FIXTURE_APPS, env, ready: /all 1 workers ready/,
  });
  return { port, statsPort, server };
}

async function harakiriCount(statsPort: number): Promise<number> {
  const stats = await readStats(statsPort);
  return (stats.workers as Array<{ harakiri_count: number }>)[0]!.harakiri_count;
}

test('a request stuck in a busy loop: the master kills the worker within harakiri + grace + 1 s, logs its JS stack, and a fresh worker serves', async () => {
  const { port, statsPort, server } = await start(['--harakiri', '1', '--harakiri-verbose', '--harakiri-graceful-timeout', '1']);
  try {
    const firstPid = (await httpGet({ port }, '/')).body;
    const started = Date.now();
    const spin = await httpGet({ port }, '/spin').then(() => 'answered', () => 'connection broken');
    const elapsed = Date.now() - started;
    assert.is(spin, 'connection broken', server.log());
    // harakiri 1 + a beat 1 + stack up to 1 + grace 1, and generous room for a loaded machine.
    assert.ok(elapsed < 8000, `killed after ${elapsed} ms:\n${server.log()}`);
    assert.ok(elapsed >= 1000, `killed after ${elapsed} ms, before --harakiri:\n${server.log()}`);
    await server.waitFor(/spawned worker 1 [\s\S]*spawned worker 1 [\s\S]*ready \(pid/);
    const next = await httpGet({ port }, '/');
    assert.is(next.status, 200);
    assert.is.not(next.body, firstPid, 'a fresh worker serves');
    const log = server.log();
    assert.match(log, /HARAKIRI ON WORKER 1 \(pid \d+\): its event loop has not run for [\d.]+ s \(--harakiri 1\): taking its JS stack, then SIGTERM, then SIGKILL after 1 s/);
    assert.match(log, /HARAKIRI ON WORKER 1 \(pid \d+\) was running: spinForever \(file:\/\/\/\S+harakiri\.js:\d+:\d+\) \| \/spin/);
    assert.match(log, /still there after --harakiri-graceful-timeout: SIGKILL/);
    assert.match(log, /worker 1 \(pid \d+\) died \(signal SIGKILL\), respawning/);
    assert.is(await harakiriCount(statsPort), 1);
  } finally {
    await server.stop();
  }
});

test('without --harakiri-verbose a stuck worker is SIGKILLed at once (uWSGI default: no graceful timeout)', async () => {
  const { port, server } = await start(['--harakiri', '1']);
  try {
    await httpGet({ port }, '/spin').catch(() => {});
    await server.waitFor(/died \(signal SIGKILL\), respawning/);
    assert.match(server.log(), /HARAKIRI ON WORKER 1 \(pid \d+\): its event loop has not run for [\d.]+ s \(--harakiri 1\): SIGKILL\n/);
    assert.not.match(server.log(), /was running/);
  } finally {
    await server.stop();
  }
});

test('an async request parked past harakiri is halted alone: finally runs, signal fires, 504, while 50 other cores keep serving', async () => {
  const markers = tempDir();
  const { port, statsPort, server } = await start(['--harakiri', '2', '--harakiri-verbose', '--async', '60'], { TSGI_TEST_MARKERS: markers });
  try {
    const workerPid = (await httpGet({ port }, '/')).body;
    const started = Date.now();
    const parked = httpGet({ port }, '/park');
    const begun = httpGet({ port }, '/begun').then(() => 'answered', () => 'connection broken');
    // Meanwhile, rounds of 50 concurrent short requests all succeed.
    let served = 0;
    while (Date.now() - started < 3500) {
      const round = await Promise.all(Array.from({ length: 50 }, () => httpGet({ port }, '/short')));
      for (const response of round) assert.is(response.status, 200, server.log());
      served += round.length;
    }
    const response = await parked;
    const elapsed = Date.now() - started;
    assert.is(response.status, 504, server.log());
    assert.match(response.body, /Gateway Timeout/);
    assert.ok(elapsed >= 2000 && elapsed < 8000, `halted after ${elapsed} ms`);
    assert.is(await begun, 'connection broken', 'a response already begun is cut, never completed');
    assert.ok(existsSync(join(markers, 'finally')), 'the parked generator ran its finally block');
    assert.is(readFileSync(join(markers, 'aborted'), 'utf8'), 'TSGI_ERR_HARAKIRI', "tsgi.signal fired with the harakiri's reason");
    assert.ok(served >= 50, `served ${served}`);
    assert.is((await httpGet({ port }, '/')).body, workerPid, 'the same worker serves on');
    const log = server.log();
    assert.match(log, /HARAKIRI ON WORKER 1 \(pid \d+, core \d+\): request running [\d.]+ s > --harakiri 2 s: halted \(504 sent\): GET \/park from 127\.0\.0\.1, waiting on Sleep/);
    assert.match(log, /HARAKIRI ON WORKER 1 \(pid \d+, core \d+\): request running [\d.]+ s > --harakiri 2 s: halted \(response begun: connection closed\): GET \/begun/);
    assert.not.match(log, /respawning/);
    assert.is(await harakiriCount(statsPort), 2);
  } finally {
    await server.stop();
  }
});

test('harakiri_count in --stats counts halted requests and killed workers of the slot together', async () => {
  const { port, statsPort, server } = await start(['--harakiri', '1', '--async', '4']);
  try {
    assert.is(await harakiriCount(statsPort), 0);
    assert.is((await httpGet({ port }, '/park')).status, 504);
    await httpGet({ port }, '/spin').catch(() => {});
    await server.waitFor(/died \(signal SIGKILL\), respawning[\s\S]*ready \(pid/);
    await sleep(100);
    assert.is(await harakiriCount(statsPort), 2, server.log());
  } finally {
    await server.stop();
  }
});

test.run();
