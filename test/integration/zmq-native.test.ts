/**
 * The Mongrel2 handler on the addon's libzmq sockets (native/zmq.c, runtime/protocols/zmq/
 * native-link.ts): it is the path in use when the addon has them, and it keeps HTTP's order on
 * every connection under a burst of pipelined requests; the zeromq.js fallback does the same.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Mongrel2Peer, type Exchange } from '../helpers/mongrel2-peer.js';
import { FIXTURE_APPS, startTsgi, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';
import { NativeZmqSocket } from '../../runtime/protocols/zmq/native-link.js';

const CONNECTIONS = 4;
const PER_CONNECTION = 250;

async function startHandler(env: NodeJS.ProcessEnv): Promise<{ server: Server; peer: Mongrel2Peer }> {
  const peer = await Mongrel2Peer.start(`tcp://127.0.0.1:${await pickPort()}`, `tcp://127.0.0.1:${await pickPort()}`);
  // --async 16: requests of one connection run side by side and may finish out of order.
  const server = await startTsgi(['--zmq', `${peer.pushAddress},${peer.subAddress}`, '--module', 'env-echo', '--async', '16', '--disable-logging'], {
    cwd: FIXTURE_APPS,
    env,
    ready: /pulling requests from/,
  });
  await peer.waitForHandlers(1);
  return { server, peer };
}

/** The query strings of the responses on one connection, in the order their bytes arrived. */
function answeredQueries(exchange: Exchange): string[] {
  return [...exchange.raw.toString('latin1').matchAll(/"QUERY_STRING":"([^"]*)"/g)].map((match) => match[1]!);
}

/** 1,000 requests sent back to back, pipelined on 4 keep-alive connections, interleaved. */
async function burst(peer: Mongrel2Peer, tag: string): Promise<void> {
  const exchanges: Exchange[] = [];
  for (let i = 0; i < PER_CONNECTION; i++) {
    for (let c = 0; c < CONNECTIONS; c++) {
      const connId = `${tag}${c}`;
      const exchange = peer.request(`/?c=${c}&i=${i}`, { connId, pipelined: i > 0, headers: { connection: 'keep-alive' } });
      if (i === 0) exchanges.push(exchange);
    }
  }
  const deadline = Date.now() + 30_000;
  while (exchanges.some((exchange) => answeredQueries(exchange).length < PER_CONNECTION) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  exchanges.forEach((exchange, c) => {
    const expected = Array.from({ length: PER_CONNECTION }, (_, i) => `c=${c}&i=${i}`);
    assert.equal(answeredQueries(exchange), expected, `connection ${c}: responses missing or out of order`);
    assert.not.ok(exchange.closed, `connection ${c} was closed: keep-alive responses need no close message`);
  });
}

test('the addon was built with libzmq here (.ci/install-deps installs libzmq3-dev)', () => {
  assert.ok(NativeZmqSocket !== null, 'build/Release/tsgi.node has no ZmqSocket: is libzmq3-dev installed? (node scripts/build-addon.mjs says)');
});

test('native sockets: the worker uses libzmq itself, not zeromq.js, and answers 1,000 pipelined requests in order per connection', async () => {
  const { server, peer } = await startHandler({});
  try {
    assert.match(server.log(), /\(native libzmq sockets\)/);
    const maps = readFileSync(`/proc/${server.pid}/maps`, 'utf8');
    assert.match(maps, /libzmq\.so/, 'the worker has not mapped the system libzmq');
    assert.not.match(maps, /zeromq/, 'the worker loaded zeromq.js');
    await burst(peer, 'n');
  } finally {
    await server.stop();
    peer.close();
  }
});

test('native sockets: a 3 MiB body, larger than the reused receive buffer, arrives whole, and so do the requests around it', async () => {
  const { server, peer } = await startHandler({});
  try {
    const big = randomBytes(3 * 1024 * 1024);
    const before = peer.request('/?before');
    const upload = peer.request('/', { method: 'POST', body: big });
    const after = peer.request('/?after');
    for (const exchange of [before, upload, after]) await exchange.done(10_000);
    const echoed = JSON.parse(upload.response().body.toString()) as { body: { length: number; sha1: string } };
    assert.equal(echoed.body, { length: big.length, sha1: createHash('sha1').update(big).digest('hex') });
    assert.equal([answeredQueries(before), answeredQueries(after)], [['before'], ['after']]);
  } finally {
    await server.stop();
    peer.close();
  }
});

test('TSGI_ZMQ_SOCKETS=zeromq.js: the fallback path (an addon without libzmq) answers the same burst in order', async () => {
  const { server, peer } = await startHandler({ TSGI_ZMQ_SOCKETS: 'zeromq.js' });
  try {
    assert.not.match(server.log(), /native libzmq/);
    assert.match(readFileSync(`/proc/${server.pid}/maps`, 'utf8'), /zeromq/, 'the worker did not load zeromq.js');
    await burst(peer, 'z');
  } finally {
    await server.stop();
    peer.close();
  }
});

test.run();
