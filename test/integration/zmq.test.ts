/**
 * tsgi as a Mongrel2 handler (`--zmq PULL,PUB`), driven by the Mongrel2 stand-in over real
 * ZeroMQ sockets: the env, streamed chunks as separate messages, the close message and HTTP
 * keep-alive, several workers on one PUSH, 1,000 parked requests, disconnects, malformed
 * messages, uploads, multi-id responses and graceful stop.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { XPublisher } from 'zeromq';
import { Mongrel2Peer, type Exchange } from '../helpers/mongrel2-peer.js';
import { FIXTURE_APPS, ROOT, runTsgi, sleep, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

const markers = tempDir();
/** Mongrel2's chroot as the green handler knows it (--mongrel2-chroot). */
const chroot = tempDir();
const READY = /pulling requests from/;

interface Handler {
  server: Server;
  peer: Mongrel2Peer;
}

/** A Mongrel2 peer on two fresh addresses (TCP ports or ipc:// paths) and tsgi connected to it. */
async function startHandler(args: string[], opts: { cwd?: string; handlers?: number; ipc?: boolean } = {}): Promise<Handler> {
  const dir = tempDir();
  let peer: Mongrel2Peer | undefined;
  for (let attempt = 1; peer === undefined; attempt++) {
    const pushAddress = opts.ipc ? `ipc://${dir}/requests` : `tcp://127.0.0.1:${await pickPort()}`;
    const subAddress = opts.ipc ? `ipc://${dir}/responses` : `tcp://127.0.0.1:${await pickPort()}`;
    try {
      peer = await Mongrel2Peer.start(pushAddress, subAddress);
    } catch (error) {
      if (attempt === 5) throw error; // a port another test holds: try two others
    }
  }
  const { pushAddress, subAddress } = peer;
  const handlers = opts.handlers ?? 1;
  const server = await startTsgi(['--zmq', `${pushAddress},${subAddress}`, ...args], {
    cwd: opts.cwd ?? FIXTURE_APPS,
    env: { TSGI_TEST_MARKERS: markers },
    ready: handlers === 1 ? READY : new RegExp(`(${READY.source}[^]*){${handlers}}`),
  });
  await peer.waitForHandlers(handlers);
  return { server, peer };
}

let green: Handler;
let pair: Handler;
let hello: Handler;

test.before(async () => {
  try {
    [green, pair, hello] = await Promise.all([
      startHandler(['--module', 'green', '--async', '1000', '--mongrel2-chroot', chroot]),
      startHandler(['--module', 'green', '--master', '--processes', '2', '--async', '1'], { handlers: 2 }),
      startHandler(['--module', 'hello_tsgi'], { cwd: join(ROOT, 'bench/apps'), ipc: true }),
    ]);
  } catch (error) {
    console.error(error); // uvu does not print what failed in a before hook
    throw error;
  }
});
test.after(async () => {
  for (const handler of [green, pair, hello]) {
    await handler?.server.stop();
    handler?.peer.close();
  }
});

function body(exchange: Exchange): string {
  return exchange.response().body.toString();
}

test('the env is built as uWSGI builds it from Mongrel2 headers (JSON and tnetstring)', async () => {
  const headers = { 'host': 'example.com:8080', 'x-forwarded-for': '10.1.2.3', 'x-custom': 'yes', 'content-type': 'text/x-test' };
  const json = await green.peer.request('/env?a=1&b=2', { headers, scheme: 'https' }).done(undefined, true);
  const tnet = await green.peer.request('/env?a=1&b=2', { headers, scheme: 'https', format: 'tnetstring' }).done(undefined, true);
  for (const exchange of [json, tnet]) {
    assert.is(exchange.response().statusLine, 'HTTP/1.1 200 OK');
    const env = JSON.parse(body(exchange)) as Record<string, unknown>;
    assert.is(env.REQUEST_METHOD, 'GET');
    assert.is(env.SERVER_PROTOCOL, 'HTTP/1.1');
    assert.is(env.PATH_INFO, '/env');
    assert.is(env.QUERY_STRING, 'a=1&b=2');
    assert.is(env.REQUEST_URI, '/env?a=1&b=2');
    assert.is(env.SCRIPT_NAME, '');
    assert.is(env.SERVER_NAME, hostname());
    assert.is(env.SERVER_PORT, '8080');
    assert.is(env.HTTP_HOST, 'example.com:8080');
    assert.is(env.REMOTE_ADDR, '10.1.2.3');
    assert.is(env.UWSGI_SCHEME, 'https');
    assert.is(env['tsgi.url_scheme'], 'https');
    assert.is(env.HTTP_X_CUSTOM, 'yes');
    assert.is(env.CONTENT_TYPE, 'text/x-test');
    assert.is(env.cores, 1000);
  }
});

test('PATH_INFO is percent-decoded as on HTTP and FastCGI (one char per byte); REQUEST_URI is not', async () => {
  const exchange = await green.peer.request('/%65nv?q=%41').done(undefined, true);
  assert.is(exchange.response().status, 200, body(exchange));
  const env = JSON.parse(body(exchange)) as Record<string, unknown>;
  assert.is(env.PATH_INFO, '/env');
  assert.is(env.REQUEST_URI, '/%65nv?q=%41');
  assert.is(env.QUERY_STRING, 'q=%41');
});

test('pipelined requests on one connection are answered in request order (--async > 1)', async () => {
  const connection = green.peer.request('/sleep?s=0.3', { connId: '700', headers: { connection: 'keep-alive' } });
  green.peer.request('/array', { connId: '700', pipelined: true });
  green.peer.request('/pid', { connId: '700', pipelined: true });
  for (let i = 0; i < 200 && !/\d+\n$/.test(connection.raw.toString()); i++) await sleep(10);
  const raw = connection.raw.toString();
  const [slept, array, pid] = ['slept\n', 'xyz\n', `${green.server.pid}\n`].map((text) => raw.indexOf(text));
  assert.ok(slept >= 0 && array > slept && pid > array, `responses out of order: ${JSON.stringify(raw)}`);
  // One request per connection is not held back by another connection's slow one.
  const slow = green.peer.request('/sleep?s=0.5');
  const fast = await green.peer.request('/array').done(undefined, true);
  assert.not.ok(slow.complete, 'the fast request on its own connection went first');
  assert.is(body(fast), 'xyz\n');
  await slow.done(2000, true);
});

test('a POST body arrives as tsgi.input', async () => {
  const exchange = await green.peer.request('/echo', { method: 'POST', body: 'ping \u00e9', headers: { 'content-type': 'text/plain' } }).done(undefined, true);
  assert.is(exchange.response().status, 200);
  assert.is(body(exchange), 'ping \u00e9');
});

test('streaming: each chunk is its own message, in order and on time, then the empty close message', async () => {
  const exchange = await green.peer.request('/stream').done(5000, true);
  const texts = exchange.messages.map((message) => message.body.toString());
  assert.is(texts.length, 3, JSON.stringify(texts));
  assert.match(texts[0]!, /^HTTP\/1\.1 200 OK\r\nContent-Type: text\/plain\r\n\r\nchunk 0\n$/);
  assert.equal(texts.slice(1), ['chunk 1\n', 'chunk 2\n']);
  const [first, second, third] = exchange.messages.map((message) => message.at);
  assert.ok(first! < 250, `first chunk after ${first} ms`);
  assert.ok(second! >= 250 && third! >= 550, `chunks at ${first}, ${second}, ${third} ms: expected 0.3 s apart`);
  assert.ok(exchange.closedAt >= third!, 'the close message comes last');
});

test('an app error answers 500 and closes', async () => {
  const exchange = await green.peer.request('/throw').done(undefined, true);
  assert.is(exchange.response().status, 500);
});

test('Content-Length and keep-alive: no close message, and the connection takes the next request', async () => {
  const first = await hello.peer.request('/', { connId: '500' }).done();
  assert.is(body(first), 'Hello World');
  const second = await hello.peer.request('/', { connId: '500' }).done();
  assert.is(body(second), 'Hello World');
  const close = await hello.peer.request('/', { headers: { connection: 'close' } }).done(undefined, true);
  const http10 = await hello.peer.request('/', { version: 'HTTP/1.0' }).done(undefined, true);
  const http10KeepAlive = await hello.peer.request('/', { version: 'HTTP/1.0', headers: { connection: 'keep-alive' } }).done();
  assert.is(body(close), 'Hello World');
  assert.match(http10.response().statusLine, /^HTTP\/1\.0 200/);
  await sleep(300);
  assert.not.ok(first.closed || second.closed || http10KeepAlive.closed, 'keep-alive responses are not followed by a close message');
  assert.ok(close.closed && http10.closed);
  // A response without Content-Length must close, keep-alive or not.
  const noLength = await green.peer.request('/array').done(undefined, true);
  assert.is(body(noLength), 'xyz\n');
});

test('Mongrel2 restarts: the handler stops pulling while it is gone and serves again once it subscribes', async () => {
  const { pushAddress, subAddress } = hello.peer;
  hello.peer.close();
  await hello.server.waitFor(/Mongrel2 disconnected from ipc:.*not pulling requests/);
  hello.peer = await Mongrel2Peer.start(pushAddress, subAddress);
  await hello.peer.waitForHandlers(1);
  await hello.server.waitFor(/Mongrel2 subscribed again on ipc:/);
  const exchange = await hello.peer.request('/').done();
  assert.is(body(exchange), 'Hello World');
});

test('two workers share one PUSH: both serve', async () => {
  const exchanges = await Promise.all(Array.from({ length: 20 }, () => pair.peer.request('/pid').done(undefined, true)));
  const pids = new Set(exchanges.map((exchange) => body(exchange).trim()));
  assert.is(pids.size, 2, `pids: ${[...pids].join(', ')}\n${pair.server.log()}`);
});

test('a worker with no free core stops reading and resumes when one frees (--async 1)', async () => {
  const started = Date.now();
  const exchanges = await Promise.all(Array.from({ length: 4 }, () => pair.peer.request('/sleep?s=0.3').done(5000, true)));
  const elapsed = Date.now() - started;
  assert.equal(exchanges.map(body), ['slept\n', 'slept\n', 'slept\n', 'slept\n']);
  assert.ok(elapsed >= 550, `4 requests on 2 single-core workers took ${elapsed} ms: expected two rounds of 0.3 s`);
});

test('1,000 parked /sleep?s=1 requests on one worker (--async 1000) finish in about a second', async () => {
  const started = Date.now();
  const exchanges = await Promise.all(Array.from({ length: 1000 }, () => green.peer.request('/sleep?s=1').done(10_000, true)));
  const elapsed = Date.now() - started;
  assert.is(exchanges.filter((exchange) => body(exchange) === 'slept\n').length, 1000);
  assert.ok(elapsed >= 1000, `took ${elapsed} ms: the sleeps did not sleep`);
  assert.ok(elapsed < 4000, `took ${elapsed} ms; concurrent sleeps should take ~1 s`);
});

test('a disconnect message halts that request: its finally runs and its signal aborts', async () => {
  const exchange = green.peer.request('/cancel?id=zmq1');
  while (exchange.messages.length === 0) await sleep(10);
  assert.match(exchange.messages[0]!.body.toString(), /waiting\n$/);
  green.peer.disconnect('999999'); // nobody's connection: ignored
  green.peer.disconnect(exchange.connId);
  for (let i = 0; i < 100 && !existsSync(join(markers, 'finally-zmq1')); i++) await sleep(20);
  assert.ok(existsSync(join(markers, 'finally-zmq1')), 'the generator finally block ran');
  assert.ok(existsSync(join(markers, 'aborted-zmq1')), 'tsgi.signal aborted');
  await sleep(200);
  assert.is(exchange.messages.length, 1, 'nothing more is sent to a client that is gone');
  assert.not.ok(exchange.closed);
  // tnetstring disconnects work too
  const second = green.peer.request('/cancel?id=zmq2', { format: 'tnetstring' });
  while (second.messages.length === 0) await sleep(10);
  green.peer.disconnect(second.connId, 'tnetstring');
  for (let i = 0; i < 100 && !existsSync(join(markers, 'finally-zmq2')); i++) await sleep(20);
  assert.ok(existsSync(join(markers, 'finally-zmq2')));
});

/**
 * Mongrel2's PUSH round-robins requests and disconnect notices alike over the handlers: with two
 * workers, the message after a request goes to the other one. Two /pid requests first show the
 * alternation (and which worker is next), so the notice is known to reach the non-owner.
 */
async function nextIsOtherWorker(): Promise<void> {
  const [first, second] = [pair.peer.request('/pid'), pair.peer.request('/pid')];
  const pids = [body(await first.done(5000, true)), body(await second.done(5000, true))];
  assert.is.not(pids[0], pids[1], `PUSH alternates between the two workers: ${pids.join(', ')}`);
}

test('--processes 2: a disconnect notice Mongrel2 hands to the other worker halts the request within a second', async () => {
  await nextIsOtherWorker();
  const exchange = pair.peer.request('/cancel?id=relay1'); // worker A
  while (exchange.messages.length === 0) await sleep(10);
  const sent = performance.now();
  pair.peer.disconnect(exchange.connId); // worker B, which does not own it
  for (let i = 0; i < 100 && !existsSync(join(markers, 'finally-relay1')); i++) await sleep(10);
  const took = performance.now() - sent;
  assert.ok(existsSync(join(markers, 'finally-relay1')), `the owner's request was not halted within 1 s\n${pair.server.log().slice(-2000)}`);
  assert.ok(existsSync(join(markers, 'aborted-relay1')), 'tsgi.signal aborted');
  assert.ok(took < 1000, `halted after ${took.toFixed(0)} ms`);
  assert.is(exchange.messages.length, 1, 'nothing more is sent to a client that is gone');
  // The owner's core is free again: both workers serve.
  await nextIsOtherWorker();
});

test('--processes 2: a notice that reaches the other worker before the owner reads the request still halts it', async () => {
  await nextIsOtherWorker();
  // --async 1: A is busy for 0.6 s, so the /cancel waits in A's PULL queue; B is busy for 0.2 s,
  // then reads the notice, long before A reads the request it is about.
  const slowA = pair.peer.request('/sleep?s=0.6');
  const slowB = pair.peer.request('/sleep?s=0.2');
  const exchange = pair.peer.request('/cancel?id=relay2'); // queued for A
  pair.peer.disconnect(exchange.connId); // queued for B
  await slowB.done(5000, true);
  await slowA.done(5000, true);
  for (let i = 0; i < 100 && !existsSync(join(markers, 'finally-relay2')); i++) await sleep(10);
  assert.ok(existsSync(join(markers, 'finally-relay2')), `the request read after its notice was not halted\n${pair.server.log().slice(-2000)}`);
  await sleep(100);
  assert.is(exchange.messages.length, 0, 'nothing is sent to a client that left before its request started');
  await nextIsOtherWorker();
});

test('malformed messages are logged and dropped; the next request is served', async () => {
  green.peer.sendRaw('garbage');
  green.peer.sendRaw(`${green.peer.uuid} 77 / 5:{bad},0:,`);
  green.peer.sendRaw(Buffer.from([0xff, 0x20, 0x20, 0x20, 0x00]));
  const exchange = await green.peer.request('/array').done(undefined, true);
  assert.is(body(exchange), 'xyz\n');
  await green.server.waitFor(/TSGI_ERR_ZMQ_MESSAGE: expected "UUID ID PATH HEADERS BODY": "garbage"/);
  await green.server.waitFor(/TSGI_ERR_ZMQ_MESSAGE: HEADERS are not a JSON object/);
  await green.server.waitFor(/TSGI_ERR_ZMQ_MESSAGE: empty sender UUID or connection id/);
});

test('uploads: upload-start alone is ignored; upload-done is read under --mongrel2-chroot, then deleted', async () => {
  mkdirSync(join(chroot, 'tmp'), { recursive: true });
  const file = join(chroot, 'tmp/upload.AbC123');
  writeFileSync(file, 'uploaded body');
  const headers = { 'content-length': '13', 'x-mongrel2-upload-start': '/tmp/upload.AbC123' };
  const started = green.peer.request('/echo', { method: 'POST', headers });
  const done = await green.peer.request('/echo', { method: 'POST', headers: { ...headers, 'x-mongrel2-upload-done': '/tmp/upload.AbC123' } }).done(undefined, true);
  assert.is(body(done), 'uploaded body');
  assert.is(started.messages.length, 0, 'a request still uploading is not served');
  for (let i = 0; i < 50 && existsSync(file); i++) await sleep(20);
  assert.not.ok(existsSync(file), 'the upload file is deleted once the request ended');
  // A file that is not there (Mongrel2 chrooted elsewhere) is logged, not silently a 500.
  const missing = await green.peer.request('/echo', { method: 'POST', headers: { 'content-length': '5', 'x-mongrel2-upload-done': '/tmp/upload.gone' } }).done(undefined, true);
  assert.is(missing.response().status, 500);
  await green.server.waitFor(/TSGI_ERR_ZMQ_UPLOAD: cannot read upload \S+\/tmp\/upload\.gone .*ENOENT/);
  // tsgi deletes upload files: one outside the chroot is refused.
  green.peer.request('/echo', { method: 'POST', headers: { 'content-length': '5', 'x-mongrel2-upload-done': '/../../etc/hostname' } });
  await green.server.waitFor(/TSGI_ERR_ZMQ_UPLOAD: dropping a request: upload "\/\.\.\/\.\.\/etc\/hostname" is outside --mongrel2-chroot/);
});

test('the peer delivers a response addressed to several connection ids to each of them', async () => {
  const a = green.peer.track('91');
  const b = green.peer.track('92');
  const publisher = new XPublisher({ sendTimeout: 0, linger: 0 });
  publisher.connect(green.peer.subAddress);
  await publisher.receive(); // the peer's subscription: from here on nothing is dropped
  await publisher.send(`${green.peer.uuid} 5:91 92, broadcast`);
  await publisher.send(`00000000-0000-0000-0000-000000000000 2:91, not for this server`);
  await publisher.send(`${green.peer.uuid} 5:91 92, `);
  await Promise.all([a.done(2000, true), b.done(2000, true)]);
  for (const exchange of [a, b]) assert.equal(exchange.messages.map((message) => message.body.toString()), ['broadcast']);
  publisher.close();
});

test('--master: a reload and a shutdown under load lose no request, queued ones included', async () => {
  // --async 1 and 0.05 s requests: a dozen requests wait in each worker's PULL queue at any time.
  const { server, peer } = await startHandler(['--module', 'green', '--master', '--processes', '2', '--async', '1', '--reload-mercy', '30'], { handlers: 2 });
  try {
    let sending = true;
    const sent: Exchange[] = [];
    const client = async () => {
      while (sending) {
        const exchange = peer.request('/sleep?s=0.05');
        sent.push(exchange);
        await exchange.done(60_000, true);
      }
    };
    const clients = Array.from({ length: 24 }, client);
    await sleep(500);
    process.kill(server.pid, 'SIGHUP');
    await server.waitFor(/graceful reload/);
    await server.waitFor(/stopped pulling from[^]*stopped pulling from/);
    await sleep(1000); // the new generation serves the load
    const stopping = server.stop();
    sending = false;
    const unanswered = () => sent.filter((exchange) => !exchange.closed).map((exchange) => exchange.connId);
    const settled = await Promise.race([Promise.all(clients).then(() => 'all answered'), sleep(20_000).then(() => 'timeout')]);
    assert.is(settled, 'all answered', `${unanswered().length} of ${sent.length} requests never answered: ${unanswered().slice(0, 10).join(', ')}\n${server.log().slice(-3000)}`);
    assert.ok(sent.every((exchange) => body(exchange) === 'slept\n'));
    assert.is(await stopping, 0);
    assert.match(server.log(), /serving the \d+ message\(s\) already queued/);
  } finally {
    await server.stop();
    peer.close();
  }
});

test('--zmq needs PULL_ADDR,PUB_ADDR', async () => {
  const { code, output } = await runTsgi(['--zmq', 'tcp://127.0.0.1:1', '--module', 'green'], { cwd: FIXTURE_APPS });
  assert.is(code, 1);
  assert.match(output, /bad --zmq "tcp:\/\/127\.0\.0\.1:1": expected PULL_ADDR,PUB_ADDR/);
});

test('graceful stop: the request in flight is answered, then the worker closes its sockets and exits 0', async () => {
  const exchange = green.peer.request('/stream');
  while (exchange.messages.length === 0) await sleep(10); // in flight: 0.6 s to go
  const code = await green.server.stop();
  assert.is(code, 0);
  await exchange.done(2000, true);
  assert.is(body(exchange), 'chunk 0\nchunk 1\nchunk 2\n');
  const after = green.peer.request('/array');
  await sleep(300);
  assert.is(after.messages.length, 0, 'no worker pulls once it stopped');
});

test.run();
