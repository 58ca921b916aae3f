/**
 * The FastRouter's mappers against real tsgi nodes: --fastrouter-use-base (and the talk's
 * --fastrouter-user-base), --fastrouter-use-pattern, --fastrouter-use-cache (`addr,modifier1`
 * and `addr1|addr2`), --fastrouter-to (round robin, failover past a dead node), the key
 * precedence, fallbacks, a closed connection when there is no node, the modifier1/2 rewrite
 * and bodies streamed both ways unchanged.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { eventually, readJsonFrom, routed, routedNodes, sha1, startRawNode } from '../helpers/fastrouter.js';
import { pickPort, pickPorts } from '../helpers/ports.js';
import { FIXTURE_APPS, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';
import { encodeVars, uwsgiRequest } from '../helpers/uwsgi-client.js';

const dir = tempDir();
const [portA, portB, portDead, portRaw] = await pickPorts(4);
const servers: Server[] = [];

async function node(name: string, socket: string, extra: string[] = [], env: Record<string, string> = {}): Promise<Server> {
  const server = await startTsgi(['--master', '--socket', socket, '--module', 'router-node', ...extra], { cwd: FIXTURE_APPS, env: { TSGI_TEST_NODE: name, ...env }, ready: /all 1 workers ready/ });
  servers.push(server);
  return server;
}

async function router(args: string[], extra: { env?: Record<string, string>; ready?: RegExp } = {}): Promise<{ server: Server; port: number }> {
  const port = await pickPort();
  const server = await startTsgi(['--fastrouter', `127.0.0.1:${port}`, ...args], { cwd: FIXTURE_APPS, env: extra.env, ready: extra.ready ?? /fastrouter ready \(pid/ });
  servers.push(server);
  return { server, port };
}

test.before(async () => {
  await Promise.all([
    node('a', `127.0.0.1:${portA}`),
    node('b', `127.0.0.1:${portB}`),
    node('c', join(dir, 'c.test')),
  ]);
});
test.after(async () => {
  await Promise.all(servers.map((server) => server.stop()));
});

test('--fastrouter-use-base DIR (the talk spells it --fastrouter-user-base): DIR + key is the node', async () => {
  const { port, server } = await router(['--fastrouter-user-base', `${dir}/`]);
  assert.is((await routed({ port }, 'c.test')).node, 'c');
  assert.is((await routed({ port }, 'missing.test')).status, 0, 'no such socket: closed');
  await server.waitFor(/node .*missing\.test for key "missing\.test" did not connect \(ENOENT\)/);
});

test('--fastrouter-use-pattern: every %s becomes the key', async () => {
  const { port } = await router(['--fastrouter-use-pattern', `${dir}/%s`]);
  assert.is((await routed({ port }, 'c.test')).node, 'c');
  assert.is((await routed({ port }, 'elsewhere', { key: 'c.test' })).node, 'c', 'UWSGI_FASTROUTER_KEY comes before HTTP_HOST');
});

test('--fastrouter-to: round robin over the nodes; a dead one is skipped and the request retried', async () => {
  const { port, server } = await router(['--fastrouter-to', `127.0.0.1:${portA}`, '--fastrouter-to', `127.0.0.1:${portDead}`, '--fastrouter-to', `127.0.0.1:${portB}`]);
  const nodes = await routedNodes({ port }, 'any.host', 6);
  assert.not.ok(nodes.includes('-'), `every request answered: ${nodes}`);
  assert.equal(nodes.filter((n) => n === 'a').length, 3, `${nodes}`);
  await server.waitFor(new RegExp(`node 127\\.0\\.0\\.1:${portDead} for key "any\\.host" did not connect \\(ECONNREFUSED\\): marked failed, retry 1 of 3`));
  assert.is(server.log().match(/did not connect/g)!.length, 1, 'skipped for --fastrouter-gracetime once it failed');
});

test('--fastrouter-use-cache: `addr,modifier1` rewrites byte 0 and 3; `addr1|addr2` takes them in turn', async () => {
  const raw = await startRawNode(portRaw, Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
  try {
    const cachePort = await pickPort();
    const { port } = await router(['--cache', '16', '--socket', `127.0.0.1:${cachePort}`, '--module', 'router-node', '--fastrouter-use-cache'], {
      env: { TSGI_TEST_NODE: 'router', TSGI_TEST_CACHE: `raw.test=127.0.0.1:${portRaw},7;ab.test=127.0.0.1:${portA}|127.0.0.1:${portB}` },
      ready: /all 1 workers ready/,
    });
    const answer = await uwsgiRequest({ port }, [['HTTP_HOST', 'raw.test'], ['PATH_INFO', '/']], undefined, { modifier1: 30, modifier2: 9 });
    assert.is(answer.body.toString(), 'ok');
    assert.equal([raw.received[0]![0], raw.received[0]![3]], [7, 0], 'modifier1 from the cache value, modifier2 0');
    const sent = Buffer.from(raw.received[0]!);
    assert.ok(sent.subarray(4).equals(encodeVars([['HTTP_HOST', 'raw.test'], ['PATH_INFO', '/']])), 'the vars go out unchanged');
    assert.equal((await routedNodes({ port }, 'ab.test', 4)).sort(), ['a', 'a', 'b', 'b']);
    assert.is((await routed({ port }, 'uncached.test')).status, 0, 'a key the cache does not have: closed');
  } finally {
    raw.server.close();
  }
});

test('request and response bodies are streamed unchanged (1 MiB up, 1 MiB down)', async () => {
  const { port } = await router(['--fastrouter-to', `127.0.0.1:${portA}`]);
  const body = randomBytes(1 << 20);
  const answer = await routed({ port }, 'big.test', { body });
  assert.equal([answer.node, answer.length, answer.sha1], ['a', body.length, sha1(body)]);
  const rawPort = await pickPort();
  const payload = randomBytes(1 << 20);
  const raw = await startRawNode(rawPort, Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${payload.length}\r\n\r\n`), payload]));
  try {
    const down = await router(['--fastrouter-to', `127.0.0.1:${rawPort}`]);
    const response = await uwsgiRequest({ port: down.port }, [['HTTP_HOST', 'x']]);
    assert.is(sha1(response.body), sha1(payload));
  } finally {
    raw.server.close();
  }
});

test('no key, or no node: the connection is closed, nothing written, one log line; --fastrouter-fallback takes over after the retries', async () => {
  const { port, server } = await router(['--fastrouter-use-base', `${dir}/`, '--fastrouter-fallback', `127.0.0.1:${portDead}`, '--fastrouter-fallback', `127.0.0.1:${portB}`, '--fastrouter-stats', `127.0.0.1:${await pickPort()}`]);
  const bare = await uwsgiRequest({ port }, [['PATH_INFO', '/']]);
  assert.is(bare.raw.length, 0);
  await server.waitFor(/a request with no UWSGI_FASTROUTER_KEY, HTTP_HOST or SERVER_NAME: connection closed/);
  const fallen = await routed({ port }, 'gone.test');
  assert.is(fallen.node, 'b', 'after 1 + 3 tries of the mapped node and a dead first fallback');
  assert.is(server.log().match(/gone\.test.* did not connect/g)!.length, 5);
  const statsPort = Number(/fastrouter stats server bound to 127\.0\.0\.1:(\d+)/.exec(server.log())![1]);
  const stats = await readJsonFrom(statsPort);
  assert.equal([stats.requests, stats.connect_failures], [2, 5]);
  await eventually('the last session is over', async () => (await readJsonFrom(statsPort)).active_sessions === 0);
});

test.run();
