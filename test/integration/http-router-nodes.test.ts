/**
 * `--http` in front of the instance's own workers, and `--http-to` nodes (tcp and unix) in
 * round robin: the uwsgi vars the router builds (spec emperor-routers.md §4, in order), a node
 * that dies is skipped, and a client whose node is gone gets 502 (uWSGI would just close).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pickPort } from '../helpers/ports.js';
import { FIXTURE_APPS, httpGet, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';

const ROUTER_READY = /http router ready \(pid/;

async function node(name: string, socket: string): Promise<Server> {
  return startTsgi(['--socket', socket, '--chdir', FIXTURE_APPS, '--module', 'http-router-node', '--async', '4', '-L'], { env: { NODE_NAME: name } });
}

test('--http with no --socket makes a unix uwsgi socket for its workers (uWSGI: 127.0.0.1:0), forwards to them, removes it at exit', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http', `127.0.0.1:${port}`, '--processes', '2', '--chdir', FIXTURE_APPS, '--module', 'http-router-node', '-L'], { ready: ROUTER_READY });
  try {
    await server.waitFor(/all 2 workers ready/);
    const path = /uwsgi socket 0 bound to (\/\S+-http-workers\.sock)/.exec(server.log())?.[1];
    assert.ok(path !== undefined && existsSync(path), server.log());
    const response = await httpGet({ port }, '/who');
    assert.is(response.status, 200);
    assert.match(response.body, /^node \d+$/);
    assert.is(await server.stop(), 0);
    assert.not.ok(existsSync(path!), `${path} removed at exit`);
  } finally {
    await server.stop();
  }
});

test('the uwsgi vars are exactly spec §4, in order: request line, server, router, client, headers, then --http-var', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http', `127.0.0.1:${port}`, '--http-var', 'EXTRA=one', '--http-var', 'MORE=two=2', '--chdir', FIXTURE_APPS, '--module', 'http-router-node', '-L'], { ready: ROUTER_READY });
  try {
    await server.waitFor(/worker 1\] ready/);
    const response = await httpGet({ port }, '/env/a%20b?x=1&y', { headers: { 'X-Multi': ['one', 'two'], 'Content-Type': 'text/plain' } as unknown as Record<string, string> });
    const vars = JSON.parse(response.body) as Array<[string, string]>;
    const names = vars.map(([name]) => name);
    assert.equal(names.slice(0, 11), ['REQUEST_METHOD', 'PATH_INFO', 'REQUEST_URI', 'QUERY_STRING', 'SERVER_PROTOCOL', 'SCRIPT_NAME', 'SERVER_NAME', 'SERVER_PORT', 'UWSGI_ROUTER', 'REMOTE_ADDR', 'REMOTE_PORT']);
    const env = Object.fromEntries(vars);
    assert.is(env.PATH_INFO, '/env/a b');
    assert.is(env.REQUEST_URI, '/env/a%20b?x=1&y');
    assert.is(env.QUERY_STRING, 'x=1&y');
    assert.is(env.SERVER_PROTOCOL, 'HTTP/1.1');
    assert.is(env.SCRIPT_NAME, '');
    assert.is(env.SERVER_PORT, String(port));
    assert.is(env.UWSGI_ROUTER, 'http');
    assert.is(env.REMOTE_ADDR, '127.0.0.1');
    assert.match(env.REMOTE_PORT!, /^\d+$/);
    assert.is(env.HTTP_HOST, `localhost:${port}`);
    assert.is(env.SERVER_NAME, hostname());
    assert.is(env.CONTENT_TYPE, 'text/plain');
    assert.is(env.HTTP_X_MULTI, 'one, two'); // repeated headers joined with ", "
    // --http-var comes last, in order (tsgi's own vars such as SERVER_PROTOCOL defaults come from the worker).
    const extra = names.indexOf('EXTRA');
    assert.ok(extra > names.indexOf('HTTP_X_MULTI'), names.join(' '));
    assert.is(names[extra + 1], 'MORE');
    assert.is(env.MORE, 'two=2');
  } finally {
    await server.stop();
  }
});

test('--http-to a tcp and a unix node: strict round robin, no workers of its own (the talk\'s router-only instance)', async () => {
  const dir = tempDir();
  const [portA, port] = [await pickPort(), await pickPort()];
  const a = await node('a', `127.0.0.1:${portA}`);
  const b = await node('b', join(dir, 'b.sock'));
  const router = await startTsgi(['--http', `127.0.0.1:${port}`, '--http-to', `127.0.0.1:${portA}`, '--http-to', join(dir, 'b.sock')], { ready: ROUTER_READY });
  try {
    const names: string[] = [];
    for (let i = 0; i < 6; i++) names.push((await httpGet({ port }, '/who')).body.split(' ')[0]!);
    assert.equal(names, ['a', 'b', 'a', 'b', 'a', 'b']);
    assert.not.match(router.log(), /spawned worker/);
  } finally {
    await Promise.all([router.stop(), a.stop(), b.stop()]);
  }
});

test('a dead node (tcp) is skipped (its requests go to the live one); no node left: 502 and a coded log line', async () => {
  const dir = tempDir();
  const [port, portA] = [await pickPort(), await pickPort()];
  const a = await node('a', `127.0.0.1:${portA}`);
  const b = await node('b', join(dir, 'b.sock'));
  const router = await startTsgi(['--http', `127.0.0.1:${port}`, '--http-to', `127.0.0.1:${portA}`, '--http-to', join(dir, 'b.sock')], { ready: ROUTER_READY });
  try {
    await a.stop();
    const names: string[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await httpGet({ port }, '/who');
      assert.is(response.status, 200, response.body);
      names.push(response.body.split(' ')[0]!);
    }
    assert.equal(names, ['b', 'b', 'b', 'b']);
    await b.stop();
    const response = await httpGet({ port }, '/who');
    assert.is(response.status, 502);
    assert.is(response.headers.connection, 'close');
    await router.waitFor(/502 to 127\.0\.0\.1: TSGI_ERR_HROUTER_NODE_DOWN: cannot connect to .*b\.sock: ENOENT|ECONNREFUSED/);
    // The node is back: served again (every node failed, so the router tries them anyway).
    const again = await node('b', join(dir, 'b.sock'));
    try {
      assert.is((await httpGet({ port }, '/who')).body.split(' ')[0], 'b');
    } finally {
      await again.stop();
    }
  } finally {
    await router.stop();
  }
});

test('SIGTERM: the router finishes a response under way, then the instance exits 0', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http', `127.0.0.1:${port}`, '--chdir', FIXTURE_APPS, '--module', 'http-router-node', '--async', '4', '-L'], { ready: ROUTER_READY });
  await server.waitFor(/worker 1\] ready/);
  const slow = httpGet({ port }, '/slow?s=1');
  await new Promise((resolve) => setTimeout(resolve, 300));
  const stopped = server.stop();
  const response = await slow;
  assert.is(response.status, 200);
  assert.is(response.body, 'slow');
  assert.is(await stopped, 0, server.log());
});

test('--http-processes 2: two router processes share the socket; SIGHUP replaces both, serving throughout', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http', `127.0.0.1:${port}`, '--http-processes', '2', '--chdir', FIXTURE_APPS, '--module', 'http-router-node', '-L'], { ready: /all 1 workers ready/ });
  try {
    await server.waitFor(/\[http 2\] http router ready/);
    const before = [...server.log().matchAll(/http router ready \(pid (\d+)\)/g)].map((match) => match[1]);
    assert.is(before.length, 2);
    const serving = (async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++) {
        statuses.push((await httpGet({ port }, '/who')).status);
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
      return statuses;
    })();
    process.kill(server.pid, 'SIGHUP');
    await server.waitFor(/http router 2 \(pid \d+\) stopped \(exit code 0\): generation 0 retired/);
    await server.waitFor(/http router 1 \(pid \d+\) stopped \(exit code 0\): generation 0 retired/);
    assert.ok((await serving).every((status) => status === 200), 'every request during the reload was answered');
    const after = [...server.log().matchAll(/http router ready \(pid (\d+)\)/g)].map((match) => match[1]);
    assert.is(after.length, 4);
  } finally {
    await server.stop();
  }
});

test.run();
