/**
 * The talk's `--http :8000 --http-subscription-server 192.168.0.1:2230`: the HTTP router keeps a
 * subscription server, instances announce themselves to it with --subscribe-to, and the
 * request's Host picks among the nodes of that key (weighted round robin, as the FastRouter).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { announce, eventually } from '../helpers/fastrouter.js';
import { pickPorts } from '../helpers/ports.js';
import { FIXTURE_APPS, httpGet, startTsgi, type Server } from '../helpers/tsgi.js';

const [routerPort, subscriptionPort, portA, portB, portDead] = await pickPorts(5);
const servers: Server[] = [];
let router: Server;

async function node(name: string, port: number): Promise<Server> {
  const server = await startTsgi(['--master', '--socket', `127.0.0.1:${port}`, '--module', 'router-node', '--subscribe-freq', '0.5',
    '--subscribe-to', `127.0.0.1:${subscriptionPort}:example.com`], { cwd: FIXTURE_APPS, env: { TSGI_TEST_NODE: name }, ready: /all 1 workers ready/ });
  servers.push(server);
  return server;
}

async function nodeFor(host: string): Promise<{ status: number; node: string }> {
  const reply = await httpGet({ port: routerPort }, '/', { headers: { host } });
  return { status: reply.status, node: reply.status === 200 ? (JSON.parse(reply.body) as { node: string }).node : '' };
}

test.before(async () => {
  router = await startTsgi(['--http', `127.0.0.1:${routerPort}`, '--http-subscription-server', `127.0.0.1:${subscriptionPort}`,
    '--http-processes', '2', '--subscription-tolerance', '2'], { cwd: FIXTURE_APPS, ready: /all 2 http routers? ready|http router ready/ });
  servers.push(router);
  await node('a', portA);
  await node('b', portB);
});
test.after(async () => {
  await Promise.all(servers.map((server) => server.stop()));
});

test('the Host picks the subscribed nodes of that key, in turn, in both router processes', async () => {
  await eventually('both nodes reachable', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) seen.add((await nodeFor('example.com')).node);
    return seen.has('a') && seen.has('b');
  });
  const nodes = [];
  for (let i = 0; i < 8; i++) nodes.push((await nodeFor('example.com')).node);
  assert.ok(nodes.every((n) => n === 'a' || n === 'b'), `${nodes}`);
  assert.ok(nodes.filter((n) => n === 'a').length >= 2 && nodes.filter((n) => n === 'b').length >= 2, `both serve: ${nodes}`);
});

test('a Host no node subscribed to gets 502; a dead subscribed node is marked and skipped', async () => {
  assert.is((await nodeFor('nobody.example')).status, 502);
  await announce(subscriptionPort, 'failover.test', `127.0.0.1:${portDead}`, { weight: 10 });
  await announce(subscriptionPort, 'failover.test', `127.0.0.1:${portA}`);
  await eventually('the live node answers for failover.test', async () => (await nodeFor('failover.test')).node === 'a');
  const answers = [];
  for (let i = 0; i < 4; i++) answers.push((await nodeFor('failover.test')).node);
  assert.equal(answers, ['a', 'a', 'a', 'a']);
});

test('a node silent for --subscription-tolerance is forgotten', async () => {
  await announce(subscriptionPort, 'silent.test', `127.0.0.1:${portB}`);
  await eventually('silent.test routed', async () => (await nodeFor('silent.test')).node === 'b');
  await eventually('silent.test forgotten', async () => (await nodeFor('silent.test')).status === 502, 10_000);
});

test.run();
