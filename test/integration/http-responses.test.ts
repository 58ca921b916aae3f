/**
 * `--http-socket` responses at the byte level: HTTP/1.0 framing, statuses without a body, and
 * framing headers the app sets itself. Raw TCP throughout.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { useHttpEdgeServer } from '../helpers/http-edge.js';
import { describe, expectPath, get, header, headerValues, withConn } from '../helpers/http-raw.js';

await useHttpEdgeServer(test);



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

test.run();
