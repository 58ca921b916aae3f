/**
 * The FastRouter's options and lifecycle: a router without a mapper and a bad --subscribe-to
 * are refused with their code, option, file and line; --fastrouter-timeout closes a session
 * whose node says nothing; a graceful shutdown lets the session in flight finish; a router
 * process that dies is respawned by the master.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pickPort, pickPorts } from '../helpers/ports.js';
import { FIXTURE_APPS, runTsgi, sleep, startTsgi, tempDir } from '../helpers/tsgi.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';

test('no mapper: TSGI_ERR_FASTROUTER_NO_MAPPER; a bad --subscribe-to names the option, file and line', async () => {
  const none = await runTsgi(['--fastrouter', `127.0.0.1:${await pickPort()}`]);
  assert.is(none.code, 1);
  assert.match(none.output, /TSGI_ERR_FASTROUTER_NO_MAPPER/);
  const dir = tempDir();
  writeFileSync(join(dir, 'node.ini'), '[uwsgi]\nsocket = 127.0.0.1:3031\nsubscribe-to = /tmp/sub.sock:example.com\n');
  const bad = await runTsgi(['--ini', join(dir, 'node.ini'), '--module', 'router-node'], { cwd: FIXTURE_APPS });
  assert.is(bad.code, 1);
  assert.match(bad.output, /bad value for --subscribe-to \(.*node\.ini:3\).*UDP/);
});

test('--fastrouter-timeout: a node that says nothing has its session closed', async () => {
  const [nodePort, port] = await pickPorts(2);
  const silent = createServer(() => {}).listen(nodePort, '127.0.0.1');
  const router = await startTsgi(['--fastrouter', `127.0.0.1:${port}`, '--fastrouter-to', `127.0.0.1:${nodePort}`, '--fastrouter-timeout', '1'], { cwd: FIXTURE_APPS });
  try {
    const started = Date.now();
    const response = await uwsgiRequest({ port }, [['HTTP_HOST', 'slow.test']], undefined, { timeoutMs: 10_000 });
    assert.is(response.raw.length, 0);
    assert.ok(Date.now() - started >= 900, 'not before the timeout');
    await router.waitFor(/key "slow\.test": no traffic for --fastrouter-timeout 1 s: session closed/);
  } finally {
    silent.close();
    await router.stop();
  }
});

test('a graceful shutdown finishes the session in flight; a router process that dies is respawned', async () => {
  const [nodePort, port] = await pickPorts(2);
  const slow = createServer((socket) => {
    socket.once('data', () => setTimeout(() => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate'), 1500));
  }).listen(nodePort, '127.0.0.1');
  const router = await startTsgi(['--fastrouter', `127.0.0.1:${port}`, '--fastrouter-to', `127.0.0.1:${nodePort}`], { cwd: FIXTURE_APPS });
  try {
    const pid = Number(/fastrouter ready \(pid (\d+)\)/.exec(router.log())![1]);
    process.kill(pid, 'SIGKILL');
    await router.waitFor(new RegExp(`fastrouter 1 \\(pid ${pid}\\) died \\(signal SIGKILL\\), respawning`));
    for (let i = 0; i < 200 && (router.log().match(/fastrouter ready \(pid/g) ?? []).length < 2; i++) await sleep(50);
    assert.is((router.log().match(/fastrouter ready \(pid/g) ?? []).length, 2, 'respawned and ready');
    const pending = uwsgiRequest({ port }, [['HTTP_HOST', 'late.test']]);
    await sleep(300);
    router.child.kill('SIGTERM');
    assert.is((await pending).body.toString(), 'late');
    assert.is(await router.exited, 0);
  } finally {
    slow.close();
    await router.stop();
  }
});

test.run();
