/**
 * `--http-socket` requests at the byte level: pipelining, request bodies (Content-Length,
 * chunked, large, unread) and many or repeated headers. Raw TCP throughout, so every byte the
 * server sends is checked, not what node:http makes of it.
 */
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { httpGet, sleep } from '../helpers/tsgi.js';
import { useHttpEdgeServer } from '../helpers/http-edge.js';
import { CRLF, describe, expectPath, get, header, post, withConn } from '../helpers/http-raw.js';

const edge = await useHttpEdgeServer(test);
const { port } = edge;


// ----- 1. pipelining -----

test('pipelining: two and five requests in one write are answered in order on one connection', async () => {
  await withConn(async (conn) => {
    await conn.write(get('/path?n=1') + get('/path?n=2'));
    await expectPath(conn, '/path?n=1');
    await expectPath(conn, '/path?n=2');
    // Slow first: the fast ones behind it wait their turn, answers stay in request order.
    const paths = ['/slow?s=0.2&n=1', '/path?n=2', '/slow?s=0.05&n=3', '/path?n=4', '/path?n=5'];
    await conn.write(paths.map((path) => get(path)).join(''));
    for (const path of paths) await expectPath(conn, path);
    assert.is(conn.isClosed, false, 'the connection stays open');
    assert.is(conn.pending.length, 0, 'nothing after the fifth response');
  });
});

test('pipelining: a POST with a body between two GETs', async () => {
  await withConn(async (conn) => {
    await conn.write(Buffer.concat([Buffer.from(get('/path?n=1')), post('/echo', 'hello world'), Buffer.from(get('/path?n=3'))]));
    await expectPath(conn, '/path?n=1');
    const echoed = await conn.response();
    assert.is(echoed.status, 200);
    assert.is(echoed.body.toString(), 'hello world');
    assert.is(header(echoed, 'X-Env-Content-Length'), '11');
    await expectPath(conn, '/path?n=3');
  });
});

test('pipelining: 40 requests in one write (more than tsgi queues before pausing reads)', async () => {
  await withConn(async (conn) => {
    const paths = Array.from({ length: 40 }, (_, i) => (i % 7 === 0 ? `/slow?s=0.01&n=${i}` : `/path?n=${i}`));
    await conn.write(paths.map((path) => get(path)).join(''));
    for (const path of paths) await expectPath(conn, path);
    assert.is(conn.pending.length, 0);
  });
});

// ----- 2. request bodies -----

test('a Content-Length body is echoed exactly', async () => {
  const body = randomBytes(3000);
  await withConn(async (conn) => {
    await conn.write(post('/echo', body));
    const response = await conn.response();
    assert.ok(response.body.equals(body), 'body echoed');
    assert.is(header(response, 'Content-Length'), '3000', 'a whole response gets a Content-Length');
    assert.is(header(response, 'X-Env-Content-Length'), '3000');
    assert.is(header(response, 'X-Input-Length'), '3000');
  });
});

test('a chunked body sent in separate writes is echoed exactly', async () => {
  await withConn(async (conn) => {
    await conn.write(`POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`);
    // Chunks in separate writes, one split inside its data and one inside its size line.
    for (const part of ['5\r\nhello\r\n', '1\r\n \r\n', '6\r\nwor', 'ld!\r\n', 'a', '\r\n0123456789\r\n', '0\r\n\r\n']) {
      await sleep(30);
      await conn.write(part);
    }
    const response = await conn.response();
    assert.is(response.status, 200);
    assert.is(response.body.toString(), 'hello world!0123456789');
    assert.is(header(response, 'X-Env-Content-Length'), 'none', 'no CONTENT_LENGTH for a chunked body');
    assert.is(header(response, 'X-Input-Length'), '-1');
    // The connection carries on after a chunked body.
    await conn.write(get('/path?after=chunked'));
    await expectPath(conn, '/path?after=chunked');
  });
});

test('a chunked body with an extension and a trailer: the trailer does not leak into the next request', async () => {
  await withConn(async (conn) => {
    await conn.write('POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n');
    assert.is((await conn.response()).body.toString(), 'hello', 'extension ignored, body intact');
    await conn.write(get('/env?after=trailer'));
    const next = await conn.response();
    assert.is(next.status, 200, describe(next.raw));
    const env = JSON.parse(next.body.toString()) as Record<string, string>;
    assert.is(env.REQUEST_URI, '/env?after=trailer', 'the URL is the next request\'s own');
    assert.is(env.PATH_INFO, '/env');
    assert.is(env.HTTP_X_TRAILER, undefined, 'the trailer of the previous body is not a header of the next request');
  });
});

test('a 1 MiB body is echoed whole, and streamed back chunk by chunk', async () => {
  const body = randomBytes(1024 * 1024);
  await withConn(async (conn) => {
    await conn.write(post('/echo', body));
    const whole = await conn.response({ timeoutMs: 10_000 });
    assert.is(whole.status, 200);
    assert.is(whole.body.length, body.length);
    assert.ok(whole.body.equals(body), '/echo: same bytes');
    await conn.write(post('/stream-echo', body));
    const streamed = await conn.response({ timeoutMs: 10_000 });
    assert.is(header(streamed, 'Transfer-Encoding'), 'chunked');
    assert.is(streamed.body.length, body.length);
    assert.ok(streamed.body.equals(body), '/stream-echo: same bytes');
    // …and a chunked 1 MiB upload.
    const chunks: Buffer[] = [Buffer.from('POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n')];
    for (let at = 0; at < body.length; at += 100_000) {
      const part = body.subarray(at, at + 100_000);
      chunks.push(Buffer.from(`${part.length.toString(16)}\r\n`), part, CRLF);
    }
    chunks.push(Buffer.from('0\r\n\r\n'));
    await conn.write(Buffer.concat(chunks));
    const chunked = await conn.response({ timeoutMs: 10_000 });
    assert.ok(chunked.body.equals(body), 'chunked upload: same bytes');
  });
});

test('a slow reader: a 4 MiB echo while the client stops reading for a while (backpressure both ways)', async () => {
  const body = randomBytes(4 * 1024 * 1024);
  await withConn(async (conn) => {
    conn.socket.pause();
    const sent = conn.write(post('/stream-echo', body));
    await sleep(500);
    conn.socket.resume();
    const response = await conn.response({ timeoutMs: 15_000 });
    await sent;
    assert.is(response.body.length, body.length);
    assert.ok(response.body.equals(body), 'same bytes');
    await conn.write(get('/path?after=slow-reader'));
    await expectPath(conn, '/path?after=slow-reader');
  });
});

test('a client that vanishes half-way through its body: the app reading it gets an error', async () => {
  const id = `vanish-${Date.now()}`;
  await withConn(async (conn) => {
    await conn.write(`POST /read-body?id=${id} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n${'a'.repeat(1000)}`);
    await sleep(150);
  });
  const since = Date.now();
  for (;;) {
    const result = (await httpGet({ port }, `/read-result?id=${id}`)).body;
    if (result !== 'none') {
      assert.is(result, 'error TSGI_ERR_CANCELLED');
      break;
    }
    if (Date.now() - since > 1500) assert.unreachable('the body read did not end within 1.5 s of the disconnect');
    await sleep(50);
  }
});

test('a body the app does not read is skipped: the next keep-alive request is answered', async () => {
  await withConn(async (conn) => {
    // Small, then the next request in a later write.
    await conn.write(post('/ignore-body', 'hello'));
    const first = await conn.response();
    assert.is(first.body.toString(), 'ignored 5\n');
    await conn.write(get('/path?n=2'));
    await expectPath(conn, '/path?n=2');
    // Pipelined right behind the unread body, in the same write.
    const lookalike = 'GET /path?smuggled HTTP/1.1\r\n\r\n';
    await conn.write(Buffer.concat([post('/ignore-body', lookalike), Buffer.from(get('/path?n=3'))]));
    assert.is((await conn.response()).body.toString(), `ignored ${lookalike.length}\n`);
    await expectPath(conn, '/path?n=3');
    // Chunked and unread.
    await conn.write(`POST /ignore-body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n${get('/path?n=4')}`);
    assert.is((await conn.response()).body.toString(), 'ignored chunked\n');
    await expectPath(conn, '/path?n=4');
    assert.is(conn.pending.length, 0);
  });
});

test('a 2 MiB body the app does not read (past the input high-water mark) is skipped too', async () => {
  await withConn(async (conn) => {
    const body = Buffer.alloc(2 * 1024 * 1024, 'x');
    const sent = conn.write(Buffer.concat([post('/ignore-body', body), Buffer.from(get('/path?after=big'))]));
    const first = await conn.response({ timeoutMs: 10_000 });
    assert.is(first.body.toString(), `ignored ${body.length}\n`);
    await expectPath(conn, '/path?after=big');
    await sent;
  });
});

// ----- 3. headers -----

test('60 header lines all reach env (the parser hands them over in parts); repeats are joined', async () => {
  await withConn(async (conn) => {
    const lines: string[] = [];
    for (let i = 0; i < 60; i++) {
      lines.push(`X-H${i}: value-${i}\r\n`);
      if (i === 5 || i === 50) lines.push(`X-Multi: m${i}\r\n`, `Cookie: c${i}=1\r\n`);
    }
    const path = `/env?${'q'.repeat(500)}=1`;
    const request = Buffer.from(get(path, lines.join('')));
    // In three writes, split inside a header name and inside a value.
    const cut1 = request.indexOf('X-H20') + 3;
    const cut2 = request.indexOf('value-45') + 4;
    await conn.write(request.subarray(0, cut1));
    await sleep(30);
    await conn.write(request.subarray(cut1, cut2));
    await sleep(30);
    await conn.write(request.subarray(cut2));
    const response = await conn.response();
    assert.is(response.status, 200, describe(response.raw));
    const env = JSON.parse(response.body.toString()) as Record<string, string>;
    const missing: string[] = [];
    for (let i = 0; i < 60; i++) if (env[`HTTP_X_H${i}`] !== `value-${i}`) missing.push(`HTTP_X_H${i}=${env[`HTTP_X_H${i}`]}`);
    assert.equal(missing, [], 'every X-H<i> header arrives with its value');
    assert.is(env.HTTP_X_MULTI, 'm5, m50');
    assert.is(env.HTTP_COOKIE, 'c5=1; c50=1');
    assert.is(env.REQUEST_URI, path, 'the URL survives the split');
    assert.is(env.HTTP_HOST, `127.0.0.1:${port}`);
    // The next request on the same connection (few headers) is not polluted by the last one's.
    await conn.write(get('/env', 'X-Multi: a\r\nx-multi: b\r\nCookie: a=1\r\nCookie: b=2\r\n'));
    const small = JSON.parse((await conn.response()).body.toString()) as Record<string, string>;
    assert.is(small.HTTP_X_MULTI, 'a, b');
    assert.is(small.HTTP_COOKIE, 'a=1; b=2');
    assert.is(small.HTTP_X_H0, undefined, 'no header of the previous request');
    assert.is(small.REQUEST_URI, '/env');
  });
});

test.run();
