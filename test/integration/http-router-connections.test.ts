/**
 * The HTTP router's client side, over raw sockets: keep-alive and pipelining (several requests
 * in one write, answered in order: uWSGI turns keep-alive off for them), chunked bodies both
 * ways, Connection: close when keep-alive is off, a WebSocket echoed through the router with the
 * npm `ws` client, --http-timeout (504), and bad clients handled as --http-socket handles them
 * (408 for a slow head, 431, 400 and close).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import WebSocket from 'ws';
import { describe, get, header, RawConn, useHttpPort, withConn } from '../helpers/http-raw.js';
import { pickPort } from '../helpers/ports.js';
import { FIXTURE_APPS, startTsgi, tempDir } from '../helpers/tsgi.js';
import { startUwsgiWebSocketNode } from '../helpers/uwsgi-ws-node.js';

const port = await pickPort();
useHttpPort(port);
const server = await startTsgi(['--http', `127.0.0.1:${port}`, '--http-keepalive', '--http-headers-timeout', '1', '--http-timeout', '2',
  '--processes', '2', '--async', '8', '--chdir', FIXTURE_APPS, '--module', 'http-router-node', '-L'], { ready: /all 2 workers ready/ });
await server.waitFor(/http router ready/);
test.after(async () => {
  for (const conn of RawConn.all) conn.destroy();
  await server.stop();
});

const sha1 = (bytes: Buffer | string) => createHash('sha1').update(bytes).digest('hex');

test('keep-alive: two requests on one connection, both answered, the connection stays open', async () => {
  await withConn(async (conn) => {
    await conn.write(get('/one'));
    assert.is((await conn.response()).body.toString(), `/one 0 ${sha1('')}`);
    await conn.write(get('/two'));
    const second = await conn.response();
    assert.is(second.body.toString(), `/two 0 ${sha1('')}`);
    assert.is(header(second, 'connection'), undefined);
    assert.not.ok(await conn.closesWithin(300));
  });
});

test('pipelining: three requests in one write are answered in order on the same connection', async () => {
  await withConn(async (conn) => {
    await conn.write(get('/slow?s=0.3') + get('/p2') + get('/p3'));
    const bodies = [];
    for (let i = 0; i < 3; i++) bodies.push((await conn.response()).body.toString());
    assert.equal(bodies, ['slow', `/p2 0 ${sha1('')}`, `/p3 0 ${sha1('')}`]);
    assert.not.ok(await conn.closesWithin(200));
  });
});

test('Connection: close from the client: answered, then the router closes', async () => {
  await withConn(async (conn) => {
    await conn.write(get('/bye', 'Connection: close\r\n'));
    assert.is((await conn.response()).status, 200);
    await conn.untilClosed(2000);
  });
});

test('a streamed response stays chunked through the router, chunk by chunk, and the connection is reused', async () => {
  await withConn(async (conn) => {
    await conn.write(get('/stream?n=3&gap=0.2'));
    const response = await conn.response();
    assert.is(header(response, 'transfer-encoding'), 'chunked');
    assert.is(response.body.toString(), 'chunk 0\nchunk 1\nchunk 2\n');
    assert.match(response.rawBody.toString(), /\r\n0\r\n\r\n$/);
    await conn.write(get('/after'));
    assert.is((await conn.response()).body.toString(), `/after 0 ${sha1('')}`);
  });
});

test('a chunked request body is relayed as it arrives and the app reads it whole', async () => {
  const parts = ['hello ', 'chunked ', 'world'];
  await withConn(async (conn) => {
    await conn.write(`POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`);
    for (const part of parts) {
      await conn.write(`${part.length.toString(16)}\r\n${part}\r\n`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await conn.write('0\r\n\r\n');
    const response = await conn.response();
    assert.is(response.body.toString(), `/upload ${parts.join('').length} ${sha1(parts.join(''))}`, describe(response.raw));
  });
});

test('a 1 MiB Content-Length body is relayed whole', async () => {
  const body = Buffer.alloc(1024 * 1024, 'x');
  await withConn(async (conn) => {
    await conn.write(Buffer.concat([Buffer.from(`POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`), body]));
    assert.is((await conn.response()).body.toString(), `/big ${body.length} ${sha1(body)}`);
  });
});

test('a WebSocket is passed through: the npm ws client talks to a uwsgi WebSocket node via the router', async () => {
  const dir = tempDir();
  const socket = join(dir, 'ws.sock');
  const node = await startUwsgiWebSocketNode(socket);
  const routerPort = await pickPort();
  const router = await startTsgi(['--http', `127.0.0.1:${routerPort}`, '--http-to', socket, '--http-keepalive'], { ready: /http router ready/ });
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${routerPort}/chat?room=1`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const echoes: string[] = [];
    for (const text of ['one', 'two', 'x'.repeat(100_000)]) {
      ws.send(text);
      echoes.push(await new Promise<string>((resolve) => ws.once('message', (data) => resolve(data.toString()))));
    }
    assert.equal(echoes.map((text) => text.length), [3, 3, 100_000]);
    assert.is(echoes[1], 'two');
    const vars = Object.fromEntries(node.packets[0]!);
    assert.is(vars.REQUEST_URI, '/chat?room=1');
    assert.is(vars.HTTP_UPGRADE, 'websocket');
    ws.close();
    await new Promise((resolve) => ws.once('close', resolve));
  } finally {
    await router.stop();
    await node.close();
  }
});

test('without --http-keepalive the router adds Connection: close and closes after the response', async () => {
  const routerPort = await pickPort();
  const router = await startTsgi(['--http', `127.0.0.1:${routerPort}`, '--chdir', FIXTURE_APPS, '--module', 'http-router-node', '-L'], { ready: /worker 1\] ready/ });
  try {
    await router.waitFor(/http router ready/);
    await withConn(async (conn) => {
      await conn.write(get('/x'));
      const response = await conn.response();
      assert.is(header(response, 'connection'), 'close');
      await conn.untilClosed(2000);
    }, { port: routerPort });
  } finally {
    await router.stop();
  }
});

test('a node silent for --http-timeout: 504 and a coded log line', async () => {
  await withConn(async (conn) => {
    await conn.write(get('/slow?s=4'));
    const response = await conn.response({ timeoutMs: 6000 });
    assert.is(response.status, 504, describe(response.raw));
    await conn.untilClosed(2000);
  });
  await server.waitFor(/TSGI_ERR_HROUTER_NODE_TIMEOUT/);
});

test('a head that stops half-way gets 408 after --http-headers-timeout', async () => {
  await withConn(async (conn) => {
    await conn.write('GET /half HTTP/1.1\r\nHost: x\r\nX-Half: ');
    const sent = Date.now();
    const response = await conn.response({ timeoutMs: 5000 });
    assert.is(response.status, 408);
    assert.ok(Date.now() - sent >= 900, `408 after ${Date.now() - sent} ms`);
    await conn.untilClosed(2000);
  });
});

test('headers over 16 KiB get 431, garbage 400, two Hosts 400, HTTP/1.1 without Host 400: each closes', async () => {
  const cases: Array<[string, number]> = [
    [get('/big', `X-Big: ${'b'.repeat(20 * 1024)}\r\n`), 431],
    ['GARBAGE\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
    ['GET / HTTP/1.1\r\n\r\n', 400],
    ['GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505],
  ];
  for (const [request, status] of cases) {
    await withConn(async (conn) => {
      await conn.write(request);
      const response = await conn.response();
      assert.is(response.status, status, `${JSON.stringify(request.slice(0, 40))}: ${describe(response.raw)}`);
      await conn.untilClosed(2000);
    });
  }
});

test('garbage after a valid request: the request is answered, then the connection closes', async () => {
  await withConn(async (conn) => {
    await conn.write(`${get('/ok')}NOT HTTP AT ALL\r\n\r\n`);
    assert.is((await conn.response()).status, 200);
    await conn.untilClosed(2000);
  });
});

test('a node that answers without reading the body (and closes): the answer reaches the client, 100-continue or not', async () => {
  const body = Buffer.alloc(256 * 1024, 'y');
  for (const expect of ['', 'Expect: 100-continue\r\n']) {
    await withConn(async (conn) => {
      await conn.write(`POST /who HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n${expect}\r\n`);
      if (expect !== '') assert.is((await conn.response()).status, 100);
      await conn.write(body);
      const response = await conn.response();
      assert.is(response.status, 200, describe(response.raw));
      assert.match(response.body.toString(), /^node \d+$/);
    });
  }
});

test('HEAD: the head only (the body a uwsgi node sends anyway is dropped), and the connection is reused', async () => {
  await withConn(async (conn) => {
    await conn.write(get('/who').replace('GET', 'HEAD'));
    const head = await conn.response({ head: true });
    assert.is(head.status, 200);
    assert.is(head.body.length, 0);
    assert.is(header(head, 'connection'), undefined);
    await conn.write(get('/after-head'));
    assert.is((await conn.response()).body.toString(), `/after-head 0 ${sha1('')}`);
  });
});

test.run();
