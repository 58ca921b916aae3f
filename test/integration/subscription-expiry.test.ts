/**
 * Subscriptions between real tsgi instances: nodes announce themselves with --subscribe-to and
 * --subscribe2 (weight) to a FastRouter's subscription server, which balances by weight, drops
 * a node that fails to connect, forgets one that falls silent for --subscription-tolerance,
 * deletes a key left without nodes, and hears the unsubscribe of a node that shuts down.
 * With --fastrouter-processes 2 a datagram one process receives reaches the other too.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { announce, eventually, routed, routedNodes, statsNodes } from '../helpers/fastrouter.js';
import { pickPort, pickPorts } from '../helpers/ports.js';
import { FIXTURE_APPS, startTsgi, type Server } from '../helpers/tsgi.js';

const [routerPort, subscriptionPort, statsPort, portA, portB, portDead] = await pickPorts(6);
const target = { port: routerPort };
const servers: Server[] = [];
let router: Server;
let nodeB: Server;

async function node(name: string, port: number, subscribe: string[]): Promise<Server> {
  const server = await startTsgi(['--master', '--socket', `127.0.0.1:${port}`, '--module', 'router-node', '--subscribe-freq', '0.5', ...subscribe], {
    cwd: FIXTURE_APPS, env: { TSGI_TEST_NODE: name }, ready: /all 1 workers ready/,
  });
  servers.push(server);
  return server;
}

test.before(async () => {
  router = await startTsgi(['--fastrouter', `127.0.0.1:${routerPort}`, '--fastrouter-subscription-server', `127.0.0.1:${subscriptionPort}`, '--fastrouter-stats', `127.0.0.1:${statsPort}`, '--subscription-tolerance', '2'], { cwd: FIXTURE_APPS });
  servers.push(router);
  await node('a', portA, ['--subscribe-to', `127.0.0.1:${subscriptionPort}:example.com`]);
  nodeB = await node('b', portB, ['--subscribe2', `server=127.0.0.1:${subscriptionPort},key=example.com,weight=3`]);
  await eventually('both nodes subscribed', async () => (await statsNodes(statsPort, 'example.com')).length === 2);
});
test.after(async () => {
  await Promise.all(servers.map((server) => server.stop()));
});

test('weights 1 and 3: b answers three times as often as a (weighted round robin)', async () => {
  const nodes = await routedNodes(target, 'example.com', 8);
  assert.equal([nodes.filter((n) => n === 'a').length, nodes.filter((n) => n === 'b').length], [2, 6], `${nodes}`);
  assert.equal((await statsNodes(statsPort, 'example.com')).map((n) => [n.name, n.weight]), [[`127.0.0.1:${portA}`, 1], [`127.0.0.1:${portB}`, 3]]);
});

test('failover: a subscribed node that refuses connections is marked dead, the request goes to a live one', async () => {
  await announce(subscriptionPort, 'failover.test', `127.0.0.1:${portDead}`, { weight: 10 });
  await announce(subscriptionPort, 'failover.test', `127.0.0.1:${portA}`);
  await eventually('both announced', async () => (await statsNodes(statsPort, 'failover.test')).length === 2);
  assert.equal(await routedNodes(target, 'failover.test', 3), ['a', 'a', 'a']);
  await router.waitFor(new RegExp(`node 127\\.0\\.0\\.1:${portDead} for key "failover\\.test" did not connect \\(ECONNREFUSED\\)`));
  assert.equal((await statsNodes(statsPort, 'failover.test')).map((n) => n.name), [`127.0.0.1:${portA}`], 'the dead node is gone');
});

test('expiry: a node silent for --subscription-tolerance is forgotten, and its key deleted', async () => {
  await announce(subscriptionPort, 'silent.test', `127.0.0.1:${portA}`);
  assert.is((await routed(target, 'silent.test')).node, 'a');
  const since = Date.now();
  await eventually('silent.test expired', async () => (await routed(target, 'silent.test')).status === 0, 10_000);
  assert.ok(Date.now() - since >= 1500, 'not before the tolerance');
  assert.equal(await statsNodes(statsPort, 'silent.test'), [], 'the key is deleted');
  assert.is((await routed(target, 'example.com')).status, 200, 'announcing nodes stay');
});

test('expiry without requests: the sweep forgets a silent node of a key nobody asks for', async () => {
  await announce(subscriptionPort, 'unasked.test', `127.0.0.1:${portA}`);
  await eventually('unasked.test subscribed', async () => (await statsNodes(statsPort, 'unasked.test')).length === 1);
  await eventually('unasked.test swept', async () => (await statsNodes(statsPort, 'unasked.test')).length === 0, 10_000);
});

test('a node that shuts down unsubscribes: the router forgets it at once', async () => {
  await nodeB.stop();
  await router.waitFor(new RegExp(`example\\.com => 127\\.0\\.0\\.1:${portB} unsubscribed`));
  assert.equal(await routedNodes(target, 'example.com', 3), ['a', 'a', 'a']);
});

test('--fastrouter-processes 2: a subscription one process receives is relayed to the other', async () => {
  const port = await pickPort();
  const udp = await pickPort();
  const pair = await startTsgi(['--fastrouter', `127.0.0.1:${port}`, '--fastrouter-subscription-server', `127.0.0.1:${udp}`, '--fastrouter-processes', '2'], { cwd: FIXTURE_APPS, ready: /fastrouter 2\] fastrouter ready/ });
  servers.push(pair);
  await pair.waitFor(/fastrouter 1\] fastrouter ready/);
  await announce(udp, 'relay.test', `127.0.0.1:${portA}`);
  await pair.waitFor(/fastrouter 1\] \[subscription\] relay\.test => new node/);
  await pair.waitFor(/fastrouter 2\] \[subscription\] relay\.test => new node/);
  const nodes = await Promise.all(Array.from({ length: 20 }, () => routed({ port }, 'relay.test')));
  assert.ok(nodes.every((answer) => answer.node === 'a'), 'both processes route it');
});

test.run();
