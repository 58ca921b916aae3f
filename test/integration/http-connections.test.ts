/**
 * `--http-socket` connection lifetimes: clients that disconnect, idle keep-alive connections,
 * graceful stop, and the address variables. Raw TCP throughout.
 */
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, sleep, startTsgi } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';
import { useHttpEdgeServer } from '../helpers/http-edge.js';
import { describe, expectPath, get, header, RawConn, withConn, type RawResponse } from '../helpers/http-raw.js';

const edge = await useHttpEdgeServer(test);
const { port, unixPath } = edge;


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
