/**
 * The master: respawn, graceful reload under load without one failed request, graceful
 * shutdown that finishes in-flight requests, boot failures that halt instead of looping.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, sleep, startTsgi, tempDir } from '../helpers/tsgi.js';
import { nginxLikeVars, uwsgiRequest } from '../helpers/uwsgi-client.js';
import { pickPort } from '../helpers/ports.js';

test('a killed worker is respawned, with one log line naming the signal', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'green', '--master', '--processes', '2'], { cwd: FIXTURE_APPS, ready: /all 2 workers ready/ });
  try {
    const victim = Number((await httpGet({ port }, '/pid')).body);
    process.kill(victim, 'SIGKILL');
    const died = new RegExp(`worker \\d \\(pid ${victim}\\) died \\(signal SIGKILL\\), respawning[\\s\\S]*spawned worker \\d \\(pid (\\d+)\\)`);
    const [, fresh] = await server.waitFor(died);
    await server.waitFor(new RegExp(`ready \\(pid ${fresh}\\)`));
    const pids = new Set<string>();
    for (let i = 0; i < 100 && pids.size < 2; i++) pids.add((await httpGet({ port }, '/pid')).body);
    assert.is(pids.size, 2, 'two workers serve again');
    assert.not.ok(pids.has(String(victim)));
  } finally {
    await server.stop();
  }
});

test('SIGHUP reloads gracefully under load: new workers take over, not one request fails', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--socket', `127.0.0.1:${port}`, '--module', 'green', '--master', '--processes', '2', '--async', '50'], { cwd: FIXTURE_APPS, ready: /all 2 workers ready/ });
  try {
    const before = new Set<string>();
    let failures = 0;
    let done = 0;
    let running = true;
    const client = async () => {
      while (running) {
        const response = await uwsgiRequest({ port, host: '127.0.0.1' }, nginxLikeVars('GET', '/sleep?s=0.2')).catch(() => null);
        if (response?.status === 200) done++;
        else failures++;
      }
    };
    const clients = Array.from({ length: 20 }, client);
    for (let i = 0; i < 50; i++) before.add(parseInt((await uwsgiRequest({ port, host: '127.0.0.1' }, nginxLikeVars('GET', '/pid'))).body.toString(), 10).toString());
    process.kill(server.pid, 'SIGHUP');
    await server.waitFor(/retired[\s\S]*retired/, 15_000);
    await sleep(500);
    running = false;
    await Promise.all(clients);
    const after = new Set<string>();
    for (let i = 0; i < 50; i++) after.add(parseInt((await uwsgiRequest({ port, host: '127.0.0.1' }, nginxLikeVars('GET', '/pid'))).body.toString(), 10).toString());
    assert.is(failures, 0, `${failures} of ${done + failures} requests failed during the reload`);
    assert.ok(done > 50, `only ${done} requests ran during the reload`);
    for (const pid of after) assert.not.ok(before.has(pid), 'old workers are gone after the reload');
  } finally {
    await server.stop();
  }
});

test('SIGTERM finishes in-flight requests, then exits 0 and (--vacuum) removes pidfile and unix socket', async () => {
  const dir = tempDir();
  const socketPath = join(dir, 's.sock');
  const pidfile = join(dir, 'tsgi.pid');
  const server = await startTsgi(['--socket', socketPath, '--module', 'green', '--master', '--processes', '1', '--async', '10', '--pidfile', pidfile, '--vacuum'], { cwd: FIXTURE_APPS, ready: /all 1 workers ready/ });
  assert.is(readFileSync(pidfile, 'utf8').trim(), String(server.pid));
  const inflight = uwsgiRequest({ path: socketPath }, nginxLikeVars('GET', '/sleep?s=1'));
  await sleep(200);
  const started = Date.now();
  const code = await server.stop('SIGTERM');
  const response = await inflight;
  assert.is(code, 0);
  assert.is(response.body.toString(), 'slept\n', 'the in-flight request completed');
  assert.ok(Date.now() - started >= 500, 'shutdown waited for the request');
  assert.not.ok(existsSync(socketPath), 'unix socket removed');
  assert.not.ok(existsSync(pidfile), 'pidfile removed');
});

test('a stale unix socket file is replaced', async () => {
  const dir = tempDir();
  const socketPath = join(dir, 'stale.sock');
  const first = await startTsgi(['--socket', socketPath, '--module', 'green'], { cwd: FIXTURE_APPS });
  await first.stop('SIGKILL'); // leaves the socket file behind
  assert.ok(existsSync(socketPath));
  const second = await startTsgi(['--socket', socketPath, '--module', 'green'], { cwd: FIXTURE_APPS });
  try {
    assert.is((await uwsgiRequest({ path: socketPath }, nginxLikeVars('GET', '/array'))).body.toString(), 'xyz\n');
  } finally {
    await second.stop();
  }
});

test('a reload whose new code cannot load is aborted; the old workers keep serving', async () => {
  const dir = tempDir();
  const app = join(dir, 'app.mjs');
  writeFileSync(app, "export const application = (env, sr) => { sr('200 OK', []); return 'v1'; };\n");
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'app', '--master', '--processes', '2'], { cwd: dir, ready: /all 2 workers ready/ });
  try {
    writeFileSync(app, "throw new Error('v2 is broken');\n");
    process.kill(server.pid, 'SIGHUP');
    await server.waitFor(/reload aborted/);
    for (let i = 0; i < 20; i++) assert.is((await httpGet({ port }, '/')).body, 'v1');
    writeFileSync(app, "export const application = (env, sr) => { sr('200 OK', []); return 'v3'; };\n");
    process.kill(server.pid, 'SIGHUP');
    await server.waitFor(/retired[\s\S]*retired/);
    assert.is((await httpGet({ port }, '/')).body, 'v3');
  } finally {
    await server.stop();
  }
});

test('an app that throws on import exits 1 with its stack trace, in master and single mode', async () => {
  for (const extra of [['--master', '--processes', '2'], []]) {
    const server = await startTsgi(['--socket', `127.0.0.1:${await pickPort()}`, '--module', 'broken', ...extra], { cwd: FIXTURE_APPS, ready: null });
    const code = await server.exited;
    assert.is(code, 1, server.log());
    assert.match(server.log(), /Error: this app is broken on purpose\n(\[worker \d+ pid \d+\] )?\s+at /); // under the log master each line is tagged with its source
    assert.not.match(server.log(), /respawning/);
  }
});

test.run();
