/**
 * `--http-socket` and bad clients: oversized and slow heads, garbage, missing Host, request
 * smuggling, and an app that throws mid-response. Raw TCP throughout.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { httpGet, sleep } from '../helpers/tsgi.js';
import { useHttpEdgeServer } from '../helpers/http-edge.js';
import { describe, expectPath, get, header, withConn } from '../helpers/http-raw.js';

const edge = await useHttpEdgeServer(test);
const { port } = edge;


// ----- 7. errors -----

test('headers over 16 KiB get 431 and the connection closes', async () => {
  await withConn(async (conn) => {
    await conn.write(get('/path', `X-Big: ${'b'.repeat(20 * 1024)}\r\n`));
    const response = await conn.response();
    assert.is(response.status, 431, response.statusLine);
    await conn.untilClosed(2000);
  });
  await edge.server.waitFor(/TSGI_ERR_HTTP_PARSE: HPE_HEADER_OVERFLOW/);
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
  await edge.server.waitFor(/TSGI_ERR_REQUEST_TIMEOUT/);
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
  await edge.server.waitFor(/TSGI_ERR_HTTP_PARSE/);
});

test('an HTTP/1.1 request without Host gets 400 and the connection closes (RFC 9112 §3.2); HTTP/1.0 needs none', async () => {
  await withConn(async (conn) => {
    await conn.write('GET /path HTTP/1.1\r\n\r\n');
    const rest = await conn.untilClosed(2000);
    assert.match(rest.toString('latin1'), /^HTTP\/1\.1 400 Bad Request\r\n/);
  });
  await edge.server.waitFor(/TSGI_ERR_HTTP_PARSE: HPE_MISSING_HOST an HTTP\/1\.1 request without a Host header/);
  await withConn(async (conn) => {
    await conn.write('GET /path?old HTTP/1.0\r\n\r\n');
    const reply = await conn.untilClosed(2000);
    assert.match(reply.toString('latin1'), /^HTTP\/1\.1 200 /);
  });
});

test('bytes pipelined after a request that closes the connection are ignored, without an uncaught exception', async () => {
  const logBefore = edge.server.log().length;
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
  const log = edge.server.log().slice(logBefore);
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
  await edge.server.waitFor(/failing after the first chunk/);
  assert.is((await httpGet({ port }, '/path?after=throw')).body, 'path /path?after=throw\n');
});

test.run();
