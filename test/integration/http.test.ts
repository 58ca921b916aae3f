/**
 * `--http-socket` at the byte level: pipelining, request bodies (Content-Length, chunked, large,
 * unread), many and repeated headers, HTTP/1.0 framing, responses without a body, app-set
 * framing headers, malformed and slow clients, disconnects, idle timeouts and the address
 * variables. Raw TCP throughout, so every byte the server sends is checked, not what node:http
 * makes of it.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, sleep, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';
import { CRLF, describe, expectPath, get, header, headerValues, post, RawConn, useHttpPort, withConn, type RawResponse } from '../helpers/http-raw.js';

const port = await pickPort();
const dir = tempDir();
const unixPath = join(dir, 'http.sock');
let server: Server;

test.before(async () => {
  server = await startTsgi([
    '--http-socket', `127.0.0.1:${port}`, '--http-socket', unixPath,
    '--wsgi-file', join(FIXTURE_APPS, 'http-edge.js'), '--async', '8', '--socket-timeout', '1',
  ], { cwd: FIXTURE_APPS });
});
test.after(async () => {
  for (const conn of RawConn.all) conn.destroy();
  const code = await server.stop();
  assert.is(code, 0, `graceful shutdown exits 0; log:\n${server.log()}`);
});

useHttpPort(port);

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

// ----- 4. HTTP/1.0 -----

test('HTTP/1.0 without keep-alive: Connection: close, then the socket closes', async () => {
  await withConn(async (conn) => {
    await conn.write('GET /path?v=10 HTTP/1.0\r\n\r\n');
    const response = await conn.response();
    assert.is(response.body.toString(), 'path /path?v=10\n');
    assert.is(header(response, 'Connection'), 'close');
    assert.is(header(response, 'Content-Length'), String('path /path?v=10\n'.length));
    const rest = await conn.untilClosed(2000);
    assert.is(rest.length, 0, 'nothing after the body');
  });
});

test('HTTP/1.0 with Connection: keep-alive keeps the connection for the next request', async () => {
  await withConn(async (conn) => {
    await conn.write(get('/path?n=1', 'Connection: keep-alive\r\n', '1.0'));
    const first = await conn.response();
    assert.is(first.body.toString(), 'path /path?n=1\n');
    assert.is(header(first, 'Connection'), 'keep-alive');
    assert.is(await conn.closesWithin(200), false, 'still open');
    await conn.write(get('/path?n=2', 'Connection: keep-alive\r\n', '1.0'));
    assert.is(header(await expectPath(conn, '/path?n=2'), 'Connection'), 'keep-alive');
    // A last one without keep-alive closes it.
    await conn.write(get('/path?n=3', '', '1.0'));
    assert.is(header(await expectPath(conn, '/path?n=3'), 'Connection'), 'close');
    await conn.untilClosed(2000);
  });
});

test('a streaming response: HTTP/1.0 gets it unframed, ended by close; HTTP/1.1 gets it chunked', async () => {
  await withConn(async (conn) => {
    await conn.write(get('/stream', 'Connection: keep-alive\r\n', '1.0'));
    await conn.untilClosed(3000);
    const response = await conn.response();
    assert.is(header(response, 'Transfer-Encoding'), undefined, 'no chunked encoding for HTTP/1.0');
    assert.is(header(response, 'Content-Length'), undefined);
    assert.is(header(response, 'Connection'), 'close');
    assert.is(response.rawBody.toString('latin1'), 'helloworld');
  });
  await withConn(async (conn) => {
    await conn.write(get('/stream'));
    const response = await conn.response();
    assert.is(header(response, 'Transfer-Encoding'), 'chunked');
    assert.is(header(response, 'Content-Length'), undefined);
    assert.is(header(response, 'Connection'), undefined, 'keep-alive is the HTTP/1.1 default');
    // The empty chunk the app yielded must not end the body early.
    assert.is(response.rawBody.toString('latin1'), '5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n');
    await conn.write(get('/path?after=stream'));
    await expectPath(conn, '/path?after=stream');
  });
});

// ----- 5. status without a body -----

test('204 and 304 have no body and no framing headers; the connection stays usable', async () => {
  await withConn(async (conn) => {
    const paths = ['/status?code=204', '/status?code=304', '/status-stream?code=204', '/status-stream?code=304'];
    // One at a time: after each head, nothing else may arrive.
    for (const path of paths) {
      await conn.write(get(path));
      const response = await conn.response();
      assert.is(response.status, Number(path.slice(-3)), path);
      assert.is(header(response, 'Content-Length'), undefined, `${path}: Content-Length`);
      assert.is(header(response, 'Transfer-Encoding'), undefined, `${path}: Transfer-Encoding`);
      assert.is(await conn.closesWithin(100), false, `${path}: still open`);
      assert.is(conn.pending.length, 0, `${path}: no body bytes; got ${describe(conn.pending)}`);
    }
    // And pipelined, with a normal request at the end.
    await conn.write(paths.map((path) => get(path)).join('') + get('/path?after=204'));
    for (const path of paths) assert.is((await conn.response()).status, Number(path.slice(-3)));
    await expectPath(conn, '/path?after=204');
    assert.is(conn.pending.length, 0);
  });
});

test('HEAD: no body (streaming or not), same Content-Length as GET for a whole body, connection usable', async () => {
  await withConn(async (conn) => {
    await conn.write(`HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n`);
    const streamed = await conn.response({ head: true });
    assert.is(streamed.status, 200);
    assert.is(await conn.closesWithin(150), false);
    assert.is(conn.pending.length, 0, `no body after HEAD; got ${describe(conn.pending)}`);
    await conn.write(`HEAD /path?n=1 HTTP/1.1\r\nHost: x\r\n\r\n`);
    const whole = await conn.response({ head: true });
    assert.is(header(whole, 'Content-Length'), String('path /path?n=1\n'.length));
    assert.is(await conn.closesWithin(150), false);
    assert.is(conn.pending.length, 0, `no body after HEAD; got ${describe(conn.pending)}`);
    await conn.write(get('/path?n=2'));
    await expectPath(conn, '/path?n=2');
  });
});

// ----- 6. framing headers set by the app -----

test('an app-set Connection: close closes the connection after the response', async () => {
  await withConn(async (conn) => {
    await conn.write(get('/close'));
    const response = await conn.response();
    assert.is(response.body.toString(), 'closing\n');
    assert.equal(headerValues(response, 'Connection'), ['close'], 'one Connection header');
    await conn.untilClosed(2000);
  });
});

test('an app-set Content-Length is used as is: one Content-Length, no chunking', async () => {
  await withConn(async (conn) => {
    await conn.write(get('/length'));
    const response = await conn.response();
    assert.equal(headerValues(response, 'Content-Length'), ['10']);
    assert.is(header(response, 'Transfer-Encoding'), undefined);
    assert.is(response.rawBody.toString(), '0123456789');
    await conn.write(get('/path?after=length'));
    await expectPath(conn, '/path?after=length');
    assert.is(conn.pending.length, 0);
  });
});

// ----- 7. errors -----

test('headers over 16 KiB get 431 and the connection closes', async () => {
  await withConn(async (conn) => {
    await conn.write(get('/path', `X-Big: ${'b'.repeat(20 * 1024)}\r\n`));
    const response = await conn.response();
    assert.is(response.status, 431, response.statusLine);
    await conn.untilClosed(2000);
  });
  await server.waitFor(/TSGI_ERR_HTTP_PARSE: HPE_HEADER_OVERFLOW/);
  assert.is((await httpGet({ port }, '/path?after=431')).body, 'path /path?after=431\n');
});

test('a request head that stops half-way gets 408 after about --socket-timeout, and a log line', async () => {
  await withConn(async (conn) => {
    await conn.write('GET /path HTTP/1.1\r\nHost: x\r\nX-Half: ');
    const sent = Date.now();
    const response = await conn.response({ timeoutMs: 6000 });
    const waited = Date.now() - sent;
    assert.is(response.status, 408, response.statusLine);
    assert.ok(waited >= 900 && waited <= 4000, `408 after ${waited} ms (--socket-timeout 1)`);
    await conn.untilClosed(2000);
  });
  await server.waitFor(/TSGI_ERR_REQUEST_TIMEOUT/);
  // The same after a first, complete request on a keep-alive connection.
  await withConn(async (conn) => {
    await conn.write(get('/path?n=1'));
    await expectPath(conn, '/path?n=1');
    await conn.write('GET /path?n=2 HTTP/1.1\r\nHo');
    const sent = Date.now();
    const response = await conn.response({ timeoutMs: 6000 });
    assert.is(response.status, 408);
    assert.ok(Date.now() - sent <= 4000, `408 after ${Date.now() - sent} ms`);
  });
});

test('garbage after a valid request: the request is answered, then the connection closes', async () => {
  // Answered synchronously…
  await withConn(async (conn) => {
    await conn.write(`${get('/path?n=1')}THIS IS NOT HTTP\r\n\r\n`);
    await expectPath(conn, '/path?n=1');
    const rest = await conn.untilClosed(2000);
    // node:http answers the garbage with a 400 before closing; nothing else may follow.
    if (rest.length > 0) assert.match(rest.toString('latin1'), /^HTTP\/1\.1 400 [^]*\r\n\r\n$/);
  });
  // …and while the app is still running (a green-thread sleep).
  await withConn(async (conn) => {
    await conn.write(`${get('/slow?s=0.2')}THIS IS NOT HTTP\r\n\r\n`);
    const response = await expectPath(conn, '/slow?s=0.2');
    assert.is(header(response, 'Connection'), 'close');
    const rest = await conn.untilClosed(2000);
    assert.is(rest.length, 0, `nothing after the answer; got ${describe(rest)}`);
  });
  await server.waitFor(/TSGI_ERR_HTTP_PARSE/);
});

test('an HTTP/1.1 request without Host gets 400 and the connection closes (RFC 9112 §3.2); HTTP/1.0 needs none', async () => {
  await withConn(async (conn) => {
    await conn.write('GET /path HTTP/1.1\r\n\r\n');
    const rest = await conn.untilClosed(2000);
    assert.match(rest.toString('latin1'), /^HTTP\/1\.1 400 Bad Request\r\n/);
  });
  await server.waitFor(/TSGI_ERR_HTTP_PARSE: HPE_MISSING_HOST an HTTP\/1\.1 request without a Host header/);
  await withConn(async (conn) => {
    await conn.write('GET /path?old HTTP/1.0\r\n\r\n');
    const reply = await conn.untilClosed(2000);
    assert.match(reply.toString('latin1'), /^HTTP\/1\.1 200 /);
  });
});

test('bytes pipelined after a request that closes the connection are ignored, without an uncaught exception', async () => {
  const logBefore = server.log().length;
  const cases = [
    // The client asked for close (llhttp: HPE_CLOSED_CONNECTION on the next bytes).
    `${get('/path?n=1', 'Connection: close\r\n')}${get('/path?n=2')}`,
    // HTTP/1.0 without keep-alive, then another request.
    'GET /path?n=1 HTTP/1.0\r\n\r\nGET /path?n=2 HTTP/1.0\r\n\r\n',
    // The app set Connection: close; garbage follows.
    `${get('/close')}THIS IS NOT HTTP\r\n\r\n`,
  ];
  for (const bytes of cases) {
    await withConn(async (conn) => {
      await conn.write(bytes);
      const response = await conn.response();
      assert.is(response.status, 200);
      assert.is(header(response, 'Connection'), 'close');
      const rest = await conn.untilClosed(2000);
      assert.is(rest.length, 0, `only the first request is answered; got ${describe(rest)}`);
    });
  }
  // Log lines are flushed once per event-loop turn: let them arrive.
  assert.is((await httpGet({ port }, '/path?after=closed')).body, 'path /path?after=closed\n');
  await sleep(300);
  const log = server.log().slice(logBefore);
  assert.not.match(log, /uncaught exception/, `worker log:\n${log}`);
});

test('Content-Length together with Transfer-Encoding (request smuggling) is refused with 400', async () => {
  await withConn(async (conn) => {
    await conn.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /path?smuggled HTTP/1.1\r\nHost: x\r\n\r\n');
    const response = await conn.response();
    assert.is(response.status, 400, response.statusLine);
    const rest = await conn.untilClosed(2000);
    assert.not.match(rest.toString('latin1'), /smuggled/);
  });
});

test('an app that throws after its first chunk breaks the connection: no final 0\\r\\n\\r\\n', async () => {
  await withConn(async (conn) => {
    await conn.write(get('/throw-mid'));
    const raw = (await conn.untilClosed(3000)).toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 200 /);
    assert.match(raw, /Transfer-Encoding: chunked\r\n/);
    assert.ok(raw.includes('6\r\nfirst\n\r\n'), `first chunk sent: ${JSON.stringify(raw)}`);
    assert.not.ok(raw.endsWith('0\r\n\r\n'), `the response must not look complete: ${JSON.stringify(raw)}`);
    assert.not.ok(raw.includes('\r\n0\r\n\r\n'), `no last-chunk marker: ${JSON.stringify(raw)}`);
  });
  await server.waitFor(/failing after the first chunk/);
  assert.is((await httpGet({ port }, '/path?after=throw')).body, 'path /path?after=throw\n');
});

// ----- 8. client disconnect -----

/** Polls /finals until the long poll `id` ran its finally; resolves with the ms it took. */
async function finallyRan(id: string, since: number, limitMs: number): Promise<number> {
  for (;;) {
    const answer = (await httpGet({ port }, `/finals?id=${id}`)).body;
    const elapsed = Date.now() - since;
    if (answer === 'yes') return elapsed;
    if (elapsed > limitMs) throw new Error(`the long poll ${id} did not run its finally within ${limitMs} ms`);
    await sleep(50);
  }
}

test('a client that disconnects (FIN or RST) halts its long poll: the finally runs within a second', async () => {
  for (const how of ['fin', 'rst'] as const) {
    const id = `${how}-${Date.now()}`;
    const conn = await RawConn.open();
    await conn.write(get(`/longpoll?id=${id}`));
    while (!conn.pending.includes('waiting\n')) {
      if (conn.isClosed) throw new Error(`closed early: ${describe(conn.pending)}`);
      await sleep(20);
    }
    assert.is((await httpGet({ port }, `/finals?id=${id}`)).body, 'no', 'still parked');
    const since = Date.now();
    if (how === 'fin') conn.socket.end();
    else conn.socket.resetAndDestroy();
    const took = await finallyRan(id, since, 1500);
    assert.ok(took <= 1000, `${how}: finally after ${took} ms`);
    conn.destroy();
  }
});

test('with every core busy, new connections wait; one that disconnects while waiting is skipped', async () => {
  const polls: RawConn[] = [];
  const ids = Array.from({ length: 8 }, (_, i) => `full-${Date.now()}-${i}`);
  try {
    for (const id of ids) {
      const conn = await RawConn.open();
      polls.push(conn);
      await conn.write(get(`/longpoll?id=${id}`));
    }
    for (const conn of polls) {
      while (!conn.pending.includes('waiting\n')) {
        if (conn.isClosed) throw new Error(`closed early: ${describe(conn.pending)}`);
        await sleep(20);
      }
    }
    // All 8 cores parked: these two wait.
    const gone = await RawConn.open();
    await gone.write(get('/path?n=gone'));
    const waiting = await RawConn.open();
    await waiting.write(get('/path?n=waiting'));
    assert.is(await waiting.closesWithin(300), false);
    assert.is(waiting.pending.length, 0, `no answer while every core is busy; got ${describe(waiting.pending)}`);
    gone.destroy();
    await sleep(100);
    // One long poll leaves: its core goes to the connection still waiting.
    polls.shift()!.destroy();
    await expectPath(waiting, '/path?n=waiting');
    waiting.destroy();
  } finally {
    for (const conn of polls) conn.destroy();
  }
  for (const id of ids) await finallyRan(id, Date.now(), 1500);
});

// ----- 9. idle connections -----

test('an idle keep-alive connection is closed by the server after about 5 s', async () => {
  await withConn(async (conn) => {
    await conn.write(get('/path?n=1'));
    await expectPath(conn, '/path?n=1');
    const idleFrom = Date.now();
    const closedAt = await Promise.race([conn.closed, sleep(9000).then(() => 0)]);
    assert.ok(closedAt !== 0, 'closed within 9 s');
    const idle = closedAt - idleFrom;
    assert.ok(idle >= 4000 && idle <= 8000, `closed after ${idle} ms idle`);
  });
});

test('a connection that never sends a byte is closed too (not held forever)', async () => {
  await withConn(async (conn) => {
    const opened = Date.now();
    const closedAt = await Promise.race([conn.closed, sleep(9000).then(() => 0)]);
    assert.ok(closedAt !== 0, 'a silent connection must be closed within 9 s (node:http: headersTimeout; uWSGI: --socket-timeout)');
    assert.ok(closedAt - opened <= 8000, `closed after ${closedAt - opened} ms`);
  });
});

// ----- 10. address variables -----

test('an async app that outlives its disconnected client cannot touch the next request on its core', async () => {
  // One core, so the next request surely gets the core the abandoned app ran on.
  const ownPort = await pickPort();
  const own = await startTsgi(['--http-socket', `127.0.0.1:${ownPort}`, '--wsgi-file', join(FIXTURE_APPS, 'http-edge.js'), '--async', '1'], { cwd: FIXTURE_APPS });
  try {
    // The client leaves while the app awaits a plain Promise (it cannot be stopped).
    const gone = await RawConn.open({ port: ownPort });
    await gone.write('GET /late-writer?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n');
    await sleep(100);
    gone.destroy();
    await sleep(50);
    // The next request takes the freed core and is still waiting when the old app wakes up.
    await withConn(async (conn) => {
      await conn.write('GET /slow-async?ms=600 HTTP/1.1\r\nHost: x\r\n\r\n');
      let response: RawResponse;
      try {
        response = await conn.response({ timeoutMs: 3000 });
      } catch (error) {
        throw new Error(`${(error as Error).message}\nlog:\n${own.log()}`);
      }
      assert.not.ok(response.raw.includes('LEAKED'), `another request's body reached this client: ${describe(response.raw)}`);
      assert.is(header(response, 'X-From'), 'slow-async', `another request's headers reached this client: ${describe(response.raw)}`);
      assert.is(response.status, 200);
      assert.is(response.body.toString(), 'slow-async done\n');
    }, { port: ownPort });
    // And one that starts after the old app woke up.
    await sleep(100);
    const after = await httpGet({ port: ownPort }, '/path?after=late-writer');
    assert.is(after.status, 200, `${after.status} ${after.body}; log:\n${own.log()}`);
    assert.is(after.body, 'path /path?after=late-writer\n');
  } finally {
    await own.stop();
  }
});

test('graceful stop (SIGTERM): an idle keep-alive connection closes at once, a running request finishes', async () => {
  const ownPort = await pickPort();
  const own = await startTsgi(['--http-socket', `127.0.0.1:${ownPort}`, '--wsgi-file', join(FIXTURE_APPS, 'http-edge.js'), '--async', '8'], { cwd: FIXTURE_APPS });
  const idle = await RawConn.open({ port: ownPort });
  const busy = await RawConn.open({ port: ownPort });
  try {
    await idle.write(`GET /path HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.is((await idle.response()).body.toString(), 'path /path\n');
    await busy.write(`GET /slow?s=0.5 HTTP/1.1\r\nHost: x\r\n\r\n`);
    await sleep(100);
    const stopped = Date.now();
    own.child.kill('SIGTERM');
    assert.ok(await idle.closesWithin(1000), 'the idle keep-alive connection is closed on SIGTERM');
    const response = await busy.response({ timeoutMs: 3000 });
    assert.is(response.body.toString(), 'path /slow?s=0.5\n', 'the running request completes');
    assert.is(header(response, 'Connection'), 'close', 'and says the connection closes');
    await busy.untilClosed(2000);
    assert.is(await own.exited, 0);
    assert.ok(Date.now() - stopped < 3000, `stopped after ${Date.now() - stopped} ms`);
  } finally {
    idle.destroy();
    busy.destroy();
    await own.stop();
  }
});

test('an absolute-form target (as sent to a proxy) reaches the app in origin form, its authority as Host', async () => {
  await withConn(async (conn) => {
    await conn.write('GET http://example.test:8080/env?a=1 HTTP/1.1\r\nHost: other.test\r\n\r\n');
    const env = JSON.parse((await conn.response()).body.toString()) as Record<string, string>;
    assert.is(env.REQUEST_URI, '/env?a=1');
    assert.is(env.PATH_INFO, '/env');
    assert.is(env.QUERY_STRING, 'a=1');
    assert.is(env.HTTP_HOST, 'example.test:8080', 'the authority wins over Host');
    assert.is(env.SERVER_NAME, 'example.test');
    await conn.write('GET HTTPS://example.test?b=2 HTTP/1.1\r\nHost: example.test\r\n\r\n');
    const bare = await conn.response();
    assert.is(bare.body.toString(), 'no such route: /?b=2\n', 'an empty path is /');
  });
  await withConn(async (conn) => {
    await conn.write('GET http://example.test/env HTTP/1.1\r\n\r\n');
    assert.is((await conn.response()).status, 400, 'HTTP/1.1 still needs Host');
  });
});

test('REMOTE_ADDR/REMOTE_PORT are the client, SERVER_PORT the listener; over a unix socket they are empty', async () => {
  await withConn(async (conn) => {
    await conn.write(get('/env'));
    const env = JSON.parse((await conn.response()).body.toString()) as Record<string, string>;
    assert.is(env.REMOTE_ADDR, '127.0.0.1');
    assert.is(env.REMOTE_PORT, String(conn.socket.localPort));
    assert.is(env.SERVER_PORT, String(port));
    assert.is(env.SERVER_NAME, '127.0.0.1');
    assert.is(env.SERVER_PROTOCOL, 'HTTP/1.1');
    assert.is(env.REQUEST_METHOD, 'GET');
  });
  await withConn(async (conn) => {
    await conn.write('GET /env HTTP/1.1\r\nHost: example.test\r\n\r\n');
    const env = JSON.parse((await conn.response()).body.toString()) as Record<string, string>;
    assert.is(env.REMOTE_ADDR, '');
    assert.is(env.REMOTE_PORT, '');
    assert.is(env.SERVER_PORT, '');
    assert.is(env.SERVER_NAME, 'example.test');
  }, { path: unixPath });
});

test.run();
