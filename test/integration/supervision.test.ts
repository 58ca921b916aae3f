/**
 * The master's loop and its child pools: growing back-off for a child that keeps dying, IPC
 * messages checked on arrival, a shutdown that says what it waits for.
 */
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, sleep, startTsgi, tempDir } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

test('a worker that keeps dying at once is respawned with growing delays while the others serve', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'supervised', '--master', '--processes', '2', '--disable-logging'], {
    cwd: FIXTURE_APPS, env: { TSGI_TEST_DIE_WORKER: '1' }, ready: /all 2 workers ready/,
  });
  try {
    const started = Date.now();
    let served = 0;
    while (Date.now() - started < 6000) {
      const response = await httpGet({ port }, '/');
      assert.is(response.status, 200, server.log());
      served++;
      await sleep(50);
    }
    const log = server.log();
    const spawns = log.match(/spawned worker 1 /g)?.length ?? 0;
    // Without a back-off, a worker living ~0.5 s would be spawned about 12 times in 6 s.
    assert.ok(spawns >= 3 && spawns <= 6, `worker 1 spawned ${spawns} times in 6 s:\n${log}`);
    assert.match(log, /worker 1 died 2 times in a row within 1 s of its spawn: respawning in 1 s \(no fork bomb\)/);
    assert.match(log, /worker 1 died 3 times in a row within 1 s of its spawn: respawning in 2 s \(no fork bomb\)/);
    assert.not.match(log, /spawned worker 2 [\s\S]*spawned worker 2 /, 'the healthy worker was never respawned');
    assert.ok(served > 50, `served ${served}`);
  } finally {
    await server.stop();
  }
});

test('malformed IPC messages from a child are logged and dropped; the master serves on', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'supervised', '--master', '--processes', '1'], { cwd: FIXTURE_APPS, ready: /all 1 workers ready/ });
  try {
    assert.is((await httpGet({ port }, '/bad-ipc')).status, 200);
    await server.waitFor(/dropped a malformed IPC message "not even an object"/);
    const log = server.log();
    assert.match(log, /worker 1 \(pid \d+\): dropped a malformed IPC message \{"act":"no-such-act","seq":1\}/);
    assert.match(log, /dropped a malformed IPC message \{"act":"raise-signal","seq":2,"num":"not a number"\}/);
    assert.is((await httpGet({ port }, '/')).body, 'worker 1');
    assert.not.match(log, /respawning/);
  } finally {
    assert.is(await server.stop(), 0);
  }
});

test('a shutdown that waits for a running spooler task says so, with the mercy left, and logs every stop', async () => {
  const port = await pickPort();
  const dir = join(tempDir(), 'queue');
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--wsgi-file', join(FIXTURE_APPS, 'spooler.js'), '--spooler', dir,
    '--spooler-processes', '2', '--spooler-frequency', '0.2', '--reload-mercy', '30'], {
    env: { TSGI_TEST_MARKERS: tempDir() }, ready: /all 1 workers ready/,
  });
  await server.waitFor(/spooler ready[\s\S]*spooler ready/);
  const tasks = encodeURIComponent(JSON.stringify([{ id: 'long1', mode: 'slow', seconds: '7' }]));
  assert.is((await httpGet({ port }, `/spool?tasks=${tasks}`)).status, 200);
  await server.waitFor(/long1/);
  await sleep(300);
  const exited = server.stop('SIGTERM');
  await server.waitFor(/shutdown waits for 1 spooler\(s\) \(pid \d+\) finishing their tasks: 2\d s of --reload-mercy left/, 10_000);
  assert.is(await exited, 0, server.log());
  const log = server.log();
  assert.match(log, /spooler 1 \(pid \d+\) stopped \(exit code 0\)/);
  assert.match(log, /spooler 2 \(pid \d+\) stopped \(exit code 0\)/);
  assert.match(log, /worker 1 \(pid \d+\) stopped/);
  assert.ok(log.indexOf('goodbye') > log.lastIndexOf(' stopped ('), 'goodbye comes last');
});

test.run();
