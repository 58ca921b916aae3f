/**
 * sd_notify against a real unix datagram socket (python3 binds it, as systemd would): READY=1
 * only once every worker has loaded its app, RELOADING=1 (with MONOTONIC_USEC) on SIGHUP and
 * READY=1 again when the new generation serves, STOPPING=1 at shutdown; none of it reaches
 * the children's environment.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startNotifyListener } from '../helpers/notify-listener.js';
import { pickPort } from '../helpers/ports.js';
import { readProcStats } from '../helpers/processes.js';
import { FIXTURE_APPS, httpGet, startTsgi, tempDir } from '../helpers/tsgi.js';

test('READY=1 comes after both workers loaded their app, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 at SIGTERM', async () => {
  const listener = await startNotifyListener();
  const markers = join(tempDir(), 'markers');
  mkdirSync(markers);
  const port = await pickPort();
  const server = await startTsgi(['--master', '--processes', '2', '--http-socket', `127.0.0.1:${port}`, '--module', 'slow-boot', '--reload-mercy', '5'], {
    cwd: FIXTURE_APPS,
    ready: null,
    env: { NOTIFY_SOCKET: listener.path, TSGI_TEST_BOOT_MS: '1500', TSGI_TEST_BOOT_MARKERS: markers },
  });
  try {
    const starting = await listener.next();
    assert.equal(starting, { MAINPID: String(server.pid), STATUS: 'starting' });
    assert.equal(readdirSync(markers), [], 'the first message comes before any app has loaded');

    const ready = await listener.next();
    assert.is(readdirSync(markers).length, 2, `READY=1 only once both workers loaded (${JSON.stringify(listener.received)})`);
    assert.is(ready.READY, '1');
    assert.is(ready.STATUS, `serving on 127.0.0.1:${port} with 2 worker(s)`);
    assert.is((await httpGet({ port })).status, 200);

    const workers = [...readProcStats()].filter(([, stat]) => stat.ppid === server.pid).map(([pid]) => pid);
    for (const pid of workers) {
      assert.not.ok(readFileSync(`/proc/${pid}/environ`, 'latin1').includes('NOTIFY_SOCKET='), 'a worker never speaks for the service');
    }

    process.kill(server.pid, 'SIGHUP');
    const reloading = await listener.next();
    assert.is(reloading.RELOADING, '1');
    assert.match(reloading.MONOTONIC_USEC!, /^\d+$/);
    const lagMicros = Number(process.hrtime.bigint() / 1000n) - Number(reloading.MONOTONIC_USEC);
    assert.ok(lagMicros >= 0 && lagMicros < 10_000_000, `MONOTONIC_USEC is CLOCK_MONOTONIC now (${lagMicros} µs ago)`);
    assert.is(readdirSync(markers).length, 2, 'RELOADING=1 comes before the new generation loaded');
    const readyAgain = await listener.next();
    assert.is(readyAgain.READY, '1');
    assert.is(readdirSync(markers).length, 4, 'READY=1 again once both new workers loaded');

    process.kill(server.pid, 'SIGTERM');
    const stopping = await listener.next();
    assert.is(stopping.STOPPING, '1');
    assert.is(await server.exited, 0, server.log());
    assert.is(listener.received.length, 5, JSON.stringify(listener.received));
  } finally {
    await server.stop();
    await listener.process.stop();
  }
});

test('a single process (no master) notifies an abstract @name NOTIFY_SOCKET too: READY=1 once its app loaded, STOPPING=1', async () => {
  const listener = await startNotifyListener({ abstract: true });
  const markers = join(tempDir(), 'markers');
  mkdirSync(markers);
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'slow-boot'], {
    cwd: FIXTURE_APPS,
    ready: null,
    env: { NOTIFY_SOCKET: listener.path, TSGI_TEST_BOOT_MS: '500', TSGI_TEST_BOOT_MARKERS: markers },
  });
  try {
    assert.is((await listener.next()).STATUS, 'starting');
    const ready = await listener.next();
    assert.is(ready.READY, '1');
    assert.is(readdirSync(markers).length, 1, 'the in-process app had loaded');
    assert.is(ready.STATUS, `serving on 127.0.0.1:${port} with 1 worker(s)`);
    process.kill(server.pid, 'SIGTERM');
    assert.is((await listener.next()).STOPPING, '1');
    assert.is(await server.exited, 0, server.log());
  } finally {
    await server.stop();
    await listener.process.stop();
  }
});

test('without NOTIFY_SOCKET nothing is sent and nothing is said about systemd', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--master', '--http-socket', `127.0.0.1:${port}`, '--module', 'supervised'], { cwd: FIXTURE_APPS, ready: /all 1 workers ready/ });
  try {
    assert.not.match(server.log(), /systemd/);
  } finally {
    assert.is(await server.stop(), 0);
  }
});

test('an unreachable NOTIFY_SOCKET is one log line, and the instance serves anyway', async () => {
  const port = await pickPort();
  const missing = join(tempDir(), 'nobody-listens.sock');
  const server = await startTsgi(['--master', '--http-socket', `127.0.0.1:${port}`, '--module', 'supervised'], { cwd: FIXTURE_APPS, ready: /all 1 workers ready/, env: { NOTIFY_SOCKET: missing } });
  try {
    assert.match(server.log(), new RegExp(`systemd: cannot reach NOTIFY_SOCKET ${missing}: connect .*ENOENT.*; no readiness notifications`));
    assert.is((await httpGet({ port })).status, 200);
  } finally {
    assert.is(await server.stop(), 0);
  }
});

test.run();
