/**
 * FastCGI over real sockets with a hand-driven client, including what real peers never send
 * (GET_VALUES, unknown types, a second concurrent request, ABORT_REQUEST, malformed records).
 * The tests against nginx and cgi-fcgi are in test/interop/fastcgi.test.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  collectResult, decodeNameValues, encodeBeginRequest, encodeNameValues, encodeRecord, encodeRequest, FastcgiConnection, fastcgiRequest,
  nginxLikeFastcgiParams, PROTOCOL_STATUS, TYPE, type FastcgiParams,
} from '../helpers/fastcgi-client.js';
import { FIXTURE_APPS, sleep, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

// ---------------------------------------------------------------- helpers

/** Starts tsgi, tracked so it cannot outlive this process; its stop() falls back to SIGKILL after 10 s. */
async function tsgi(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Server> {
  const server = await startTsgi(args, { cwd: FIXTURE_APPS, env });
  server.stop = () => server.tracked.stop(10_000);
  return server;
}

function sha1(data: Buffer): string {
  return createHash('sha1').update(data).digest('hex');
}

async function waitFor(check: () => boolean, timeoutMs = 3000): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(20)) if (check()) return true;
  return check();
}

function json(body: Buffer): Record<string, string> {
  try {
    return JSON.parse(body.toString()) as Record<string, string>;
  } catch {
    throw new Error(`not JSON: ${body.toString().slice(0, 300)}`);
  }
}

// ---------------------------------------------------------------- one tsgi, driven by hand and by cgi-fcgi

const markers = tempDir();
const socketDir = tempDir();
const unixPath = join(socketDir, 'fcgi.sock');
let port = 0;
let server: Server;
const tcp = () => ({ port, host: '127.0.0.1' });
const params = (method: string, uri: string, extra: FastcgiParams = []): Array<[string, string]> =>
  [...nginxLikeFastcgiParams(method, uri), ...(Array.isArray(extra) ? extra : Object.entries(extra))];

test.before(async () => {
  port = await pickPort();
  server = await tsgi(['--socket', `127.0.0.1:${port}`, '--protocol', 'fastcgi', '--fastcgi-socket', unixPath, '--module', 'green', '--async', '16', '--socket-timeout', '1'], { TSGI_TEST_MARKERS: markers });
});
test.after(async () => {
  const code = await server?.stop();
  rmSync(socketDir, { recursive: true, force: true });
  assert.is(code, 0, 'graceful shutdown exits 0');
});

test('--protocol fastcgi over TCP and --fastcgi-socket over a unix socket: Status, headers, body, END_REQUEST', async () => {
  for (const target of [tcp(), { path: unixPath }]) {
    const connection = new FastcgiConnection(target);
    const result = await connection.request(params('GET', '/array'), undefined, { keepConn: false });
    assert.is(result.status, 200);
    assert.is(result.stdout.toString('latin1'), 'Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nxyz\n', 'CGI-style, not an HTTP status line');
    assert.is(result.stdoutRecords.at(-1)!.length, 0, 'an empty STDOUT record ends the stream');
    assert.equal([result.appStatus, result.protocolStatus], [0, PROTOCOL_STATUS.REQUEST_COMPLETE]);
    await connection.closed; // no FCGI_KEEP_CONN: the application closes
  }
});

test('FCGI_KEEP_CONN: many requests on one connection, params split over many records', async () => {
  const connection = new FastcgiConnection(tcp());
  try {
    for (let i = 0; i < 30; i++) {
      const result = await connection.request(params('GET', `/env?i=${i}`, [['X_PADDING', 'p'.repeat(i * 40)]]), undefined, { keepConn: true, requestId: 1 + (i % 3), paramsRecordSize: 1 + (i % 7) * 13 });
      assert.is(result.status, 200);
      const env = json(result.body);
      assert.is(env.QUERY_STRING, `i=${i}`);
      assert.is(env.X_PADDING, 'p'.repeat(i * 40));
    }
    assert.not.ok(connection.isClosed, 'still open after 30 requests');
  } finally {
    connection.close();
  }
});

test('PATH_INFO: DOCUMENT_URI when there is none (SCRIPT_NAME = whole path → ""), minus a mount-point SCRIPT_NAME, or as sent', async () => {
  const stock = json((await fastcgiRequest(tcp(), params('GET', '/env?x=1'))).body);
  assert.equal([stock.PATH_INFO, stock.SCRIPT_NAME, stock.DOCUMENT_URI], ['/env', '', '/env']);
  const mounted = json((await fastcgiRequest(tcp(), [['REQUEST_METHOD', 'GET'], ['SCRIPT_NAME', '/app'], ['REQUEST_URI', '/app/env?q']])).body);
  assert.equal([mounted.PATH_INFO, mounted.SCRIPT_NAME], ['/env', '/app']);
  const explicit = json((await fastcgiRequest(tcp(), [['REQUEST_METHOD', 'GET'], ['PATH_INFO', '/env'], ['SCRIPT_NAME', '/env']])).body);
  assert.equal([explicit.PATH_INFO, explicit.SCRIPT_NAME], ['/env', '/env'], 'a PATH_INFO param is kept as sent');
  assert.is(explicit.SERVER_PROTOCOL, 'HTTP/1.0', 'default SERVER_PROTOCOL, as on a uwsgi socket');
});

test('GET_VALUES is answered for the names tsgi knows; an unknown type gets UNKNOWN_TYPE; the connection goes on', async () => {
  const connection = new FastcgiConnection(tcp());
  try {
    await connection.connected;
    connection.write(encodeRecord(TYPE.GET_VALUES, 0, encodeNameValues([['FCGI_MAX_CONNS', ''], ['FCGI_NO_SUCH_VALUE', ''], ['FCGI_MAX_REQS', ''], ['FCGI_MPXS_CONNS', '']])));
    const values = await connection.waitRecord((r) => r.type === TYPE.GET_VALUES_RESULT);
    assert.is(values.requestId, 0);
    assert.equal(decodeNameValues(values.content), [['FCGI_MAX_CONNS', '16'], ['FCGI_MAX_REQS', '16'], ['FCGI_MPXS_CONNS', '0']]);

    connection.write(encodeRecord(0x42, 0, 'what is this'));
    const unknown = await connection.waitRecord((r) => r.type === TYPE.UNKNOWN_TYPE);
    assert.equal([unknown.requestId, unknown.content.length, unknown.content[0]], [0, 8, 0x42]);

    const result = await connection.request(params('GET', '/array'), undefined, { keepConn: true });
    assert.is(result.body.toString(), 'xyz\n');
  } finally {
    connection.close();
  }
});

test('a second concurrent BEGIN_REQUEST gets CANT_MPX_CONN, an unknown role UNKNOWN_ROLE; the first request completes', async () => {
  const connection = new FastcgiConnection(tcp());
  try {
    await connection.connected;
    connection.write(encodeRequest(params('GET', '/sleep?s=0.3'), undefined, { requestId: 1, keepConn: true }));
    await sleep(50);
    connection.write(encodeRequest(params('GET', '/array'), undefined, { requestId: 2, keepConn: true }));
    const refused = await connection.waitRecord((r) => r.type === TYPE.END_REQUEST && r.requestId === 2);
    assert.is(refused.content[4], PROTOCOL_STATUS.CANT_MPX_CONN);
    assert.not.ok(connection.records.some((r) => r.type === TYPE.STDOUT && r.requestId === 2), 'nothing else for request 2');
    await connection.waitRecord((r) => r.type === TYPE.END_REQUEST && r.requestId === 1);
    const first = collectResult(connection.records, 1);
    assert.is(first.body.toString(), 'slept\n');

    connection.write(Buffer.concat([encodeBeginRequest(3, { role: 2, keepConn: true }), encodeRecord(TYPE.PARAMS, 3), encodeRecord(TYPE.STDIN, 3)]));
    const role = await connection.waitRecord((r) => r.type === TYPE.END_REQUEST && r.requestId === 3);
    assert.is(role.content[4], PROTOCOL_STATUS.UNKNOWN_ROLE);
    assert.is((await connection.request(params('GET', '/array'), undefined, { requestId: 4, keepConn: true })).body.toString(), 'xyz\n');
  } finally {
    connection.close();
  }
});

test('ABORT_REQUEST cancels a long async_sleep(30): finally runs, END_REQUEST at once, the connection serves on', async () => {
  const connection = new FastcgiConnection(tcp());
  try {
    await connection.connected;
    connection.write(encodeRequest(params('GET', '/cancel?id=abort'), undefined, { requestId: 9, keepConn: true }));
    await connection.waitRecord((r) => r.type === TYPE.STDOUT && r.content.includes('waiting'));
    const started = Date.now();
    connection.write(encodeRecord(TYPE.ABORT_REQUEST, 9));
    const end = await connection.waitRecord((r) => r.type === TYPE.END_REQUEST && r.requestId === 9, 3000);
    assert.ok(Date.now() - started < 2000, `END_REQUEST ${Date.now() - started} ms after ABORT_REQUEST`);
    assert.is(end.content[4], PROTOCOL_STATUS.REQUEST_COMPLETE);
    const stdout = connection.records.filter((r) => r.type === TYPE.STDOUT && r.requestId === 9);
    assert.is(stdout.at(-1)!.content.length, 0, 'the STDOUT stream is closed before END_REQUEST');
    assert.ok(existsSync(join(markers, 'finally-abort')), 'the generator finally block ran');
    assert.ok(existsSync(join(markers, 'aborted-abort')), 'tsgi.signal aborted');
    assert.is((await connection.request(params('GET', '/array'), undefined, { requestId: 9, keepConn: true })).body.toString(), 'xyz\n');
  } finally {
    connection.close();
  }
});

test('closing the connection mid-request halts the green thread (finally runs)', async () => {
  const connection = new FastcgiConnection(tcp());
  await connection.connected;
  connection.write(encodeRequest(params('GET', '/cancel?id=hangup'), undefined, { keepConn: true }));
  await connection.waitRecord((r) => r.type === TYPE.STDOUT && r.content.includes('waiting'));
  connection.close();
  assert.ok(await waitFor(() => existsSync(join(markers, 'finally-hangup'))), 'the generator finally block ran');
});

test('STDIN bodies up to 1 MB stream into tsgi.input; the response comes in STDOUT records of at most 65535 bytes', async () => {
  const connection = new FastcgiConnection(tcp());
  try {
    for (const [size, recordSize] of [[0, 65535], [1, 65535], [1000, 7], [200 * 1024, 65535], [1024 * 1024, 65535], [300_000, 4096]] as const) {
      const body = randomBytes(size);
      const result = await connection.request(params('POST', '/echo', [['CONTENT_LENGTH', String(size)], ['CONTENT_TYPE', 'application/x-test']]), body, { keepConn: true, stdinRecordSize: recordSize, timeoutMs: 20_000 });
      assert.is(result.status, 200, `${size} bytes`);
      assert.is(result.body.length, size, `${size} bytes echoed`);
      assert.is(sha1(result.body), sha1(body), `${size} bytes intact`);
      assert.ok(result.stdoutRecords.every((r) => r.length <= 65535), 'no STDOUT record over 65535 bytes');
      assert.is(result.stdoutRecords.filter((r) => r.length === 0).length, 1, 'exactly one empty STDOUT record, the last');
      if (size === 200 * 1024) assert.ok(result.stdoutRecords.length >= 5, `200 KB in ${result.stdoutRecords.length} records`);
    }
  } finally {
    connection.close();
  }
});

test('a body that ends short of CONTENT_LENGTH fails the read (TSGI_ERR_FASTCGI_BODY → its 400)', async () => {
  const result = await fastcgiRequest(tcp(), params('POST', '/echo', [['CONTENT_LENGTH', '100']]), 'only ten..');
  // The app let the body error through: the client error's status, not an app error's 500.
  assert.is(result.status, 400);
  assert.ok(await waitFor(() => /TSGI_ERR_FASTCGI_BODY|ended 90 bytes short/.test(server.log())), server.log().slice(-2000));
});

test('malformed records close that connection with one log line; a request in flight elsewhere is unaffected', async () => {
  const busy = new FastcgiConnection(tcp());
  try {
    await busy.connected;
    busy.write(encodeRequest(params('GET', '/sleep?s=0.5'), undefined, { keepConn: true }));
    const cases: Array<[string, Buffer]> = [
      ['TSGI_ERR_FASTCGI_VERSION', encodeRecord(TYPE.BEGIN_REQUEST, 1, Buffer.alloc(8), { version: 2 })],
      ['TSGI_ERR_FASTCGI_VERSION', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
      ['TSGI_ERR_FASTCGI_PARAMS', Buffer.concat([encodeBeginRequest(1), encodeRecord(TYPE.PARAMS, 1, Buffer.from([0x80, 0, 0x10, 0, 1, 0x41, 0x42])), encodeRecord(TYPE.PARAMS, 1)])],
      ['TSGI_ERR_FASTCGI_PARAMS_SIZE', Buffer.concat([encodeBeginRequest(1), encodeRecord(TYPE.PARAMS, 1, encodeNameValues({ BIG: 'x'.repeat(5000) }))])],
      ['TSGI_ERR_FASTCGI_RECORD', encodeRecord(TYPE.STDOUT, 1, 'Status: 200 OK\r\n\r\n')],
      ['TSGI_ERR_FASTCGI_RECORD', Buffer.concat([encodeBeginRequest(1), encodeRecord(TYPE.STDIN, 1, 'early')])],
    ];
    for (const [code, bytes] of cases) {
      const before = server.log().split('\n').filter((line) => line.includes(code)).length;
      const bad = new FastcgiConnection(tcp());
      await bad.connected;
      bad.write(bytes);
      await bad.closed;
      assert.not.ok(bad.records.some((r) => r.type === TYPE.END_REQUEST || r.type === TYPE.STDOUT), `${code}: nothing answered`);
      assert.ok(await waitFor(() => server.log().split('\n').filter((line) => line.includes(code)).length === before + 1), `${code}: one log line`);
    }
    const lines = server.log().split('\n').filter((line) => line.includes('fastcgi: closing connection'));
    assert.ok(lines.length >= cases.length, lines.join('\n'));
    await busy.waitRecord((r) => r.type === TYPE.END_REQUEST);
    assert.is(collectResult(busy.records, 1).body.toString(), 'slept\n', 'the request in flight finished');
    assert.is((await busy.request(params('GET', '/array'), undefined, { keepConn: true })).body.toString(), 'xyz\n');
    assert.is(server.child.exitCode, null, 'the server is still up');
  } finally {
    busy.close();
  }
});

test('a record cut off by the peer closing logs TSGI_ERR_FASTCGI_TRUNCATED', async () => {
  const bad = new FastcgiConnection(tcp());
  await bad.connected;
  bad.write(encodeBeginRequest(1).subarray(0, 5));
  await sleep(50);
  bad.socket.end();
  await bad.closed;
  assert.ok(await waitFor(() => server.log().includes('TSGI_ERR_FASTCGI_TRUNCATED')), server.log().slice(-2000));
});

test('--socket-timeout closes a connection stuck in a partial request, never an idle keep-alive one', async () => {
  const idle = new FastcgiConnection(tcp());
  const stuck = new FastcgiConnection(tcp());
  try {
    assert.is((await idle.request(params('GET', '/array'), undefined, { keepConn: true })).body.toString(), 'xyz\n');
    await stuck.connected;
    stuck.write(Buffer.concat([encodeBeginRequest(1, { keepConn: true }), encodeRecord(TYPE.PARAMS, 1, encodeNameValues({ A: 'b' }))]));
    const started = Date.now();
    await stuck.closed;
    const waited = Date.now() - started;
    assert.ok(waited >= 800 && waited < 3000, `closed after ${waited} ms (--socket-timeout 1)`);
    assert.ok(await waitFor(() => /fastcgi: closing connection .*TSGI_ERR_REQUEST_TIMEOUT/.test(server.log())), server.log().slice(-1000));
    await sleep(500);
    assert.not.ok(idle.isClosed, 'the idle keep-alive connection is still open');
    assert.is((await idle.request(params('GET', '/array'), undefined, { keepConn: true })).body.toString(), 'xyz\n');
  } finally {
    idle.close();
    stuck.close();
  }
});

test('graceful stop: an idle keep-alive connection is closed at once, a busy one after its response', async () => {
  const stopPort = await pickPort();
  const app = await tsgi(['--socket', `127.0.0.1:${stopPort}`, '--protocol', 'fastcgi', '--module', 'green', '--async', '4']);
  const idle = new FastcgiConnection({ port: stopPort });
  const busy = new FastcgiConnection({ port: stopPort });
  try {
    await idle.request(params('GET', '/array'), undefined, { keepConn: true });
    await busy.connected;
    busy.write(encodeRequest(params('GET', '/sleep?s=0.5'), undefined, { keepConn: true }));
    await sleep(100);
    const started = Date.now();
    app.child.kill('SIGTERM');
    await idle.closed;
    assert.ok(Date.now() - started < 400, `idle connection closed after ${Date.now() - started} ms`);
    await busy.closed;
    assert.is(collectResult(busy.records, 1).body.toString(), 'slept\n', 'the busy request finished first');
    assert.is(await app.exited, 0);
    assert.ok(Date.now() - started < 3000, `stopped in ${Date.now() - started} ms`);
  } finally {
    idle.close();
    busy.close();
    await app.stop();
  }
});

test.run();
