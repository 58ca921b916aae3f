/**
 * What hostile clients sent the protocol servers, and what each must answer: a malformed chunked
 * body, a body that trickles in (or never comes), a status line with a line break in it, wire
 * vars named like tsgi keys, HTTP edges nginx refuses (two Hosts, HTTP/2.0, CONNECT, `*`), and
 * underscored header names that would merge into a trusted proxy's header.
 *
 * One real tsgi (`--master --processes 2`, one core each: what the attackers stopped) serves
 * HTTP, uwsgi and FastCGI at once, so every test also checks that the cores come free again.
 * Raw TCP throughout.
 */
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeBeginRequest, encodeNameValues, encodeRecord, encodeStream, FastcgiConnection, nginxLikeFastcgiParams, TYPE } from '../helpers/fastcgi-client.js';
import { nginxLikeVars, uwsgiRequest } from '../helpers/uwsgi-client.js';
import { FIXTURE_APPS, sleep, startTsgi, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

const APP = join(FIXTURE_APPS, 'hardening.js');
const httpPort = await pickPort();
const uwsgiPort = await pickPort();
const fastcgiPort = await pickPort();
let server: Server;

test.before(async () => {
  server = await startTsgi([
    '--master', '--processes', '2', '--http-socket', `127.0.0.1:${httpPort}`, '--socket', `127.0.0.1:${uwsgiPort}`,
    '--fastcgi-socket', `127.0.0.1:${fastcgiPort}`, '--wsgi-file', APP, '--socket-timeout', '1',
  ], { cwd: FIXTURE_APPS, ready: /all 2 workers ready/ });
  await waitUntilServing();
});
test.after(async () => {
  await server.stop();
});

async function waitUntilServing(): Promise<void> {
  for (const deadline = Date.now() + 10_000; ; await sleep(100)) {
    try {
      if ((await exchange(httpPort, get('/env'), 2000)).status === 200) return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
  }
}

// ----- a raw client: what the server sent, and whether it closed -----

interface Exchange {
  raw: string;
  status: number;
  closed: boolean;
  /** ms from the last write until the first byte of the answer (or the close). */
  waited: number;
}

/**
 * Connects, writes `parts` (a number is a pause in ms between writes), then reads until the
 * server closes or `timeoutMs` passes without the close.
 */
function exchange(port: number, parts: string | Buffer | Array<string | Buffer | number>, timeoutMs = 8000): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let lastWrite = Date.now();
    let firstByte = 0;
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const raw = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(raw)?.[1];
      resolve({ raw, status: status === undefined ? 0 : Number(status), closed, waited: (firstByte || Date.now()) - lastWrite });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      if (firstByte === 0) firstByte = Date.now();
      chunks.push(chunk);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? finish(true) : settled || reject(error)));
    socket.on('connect', async () => {
      for (const part of Array.isArray(parts) ? parts : [parts]) {
        if (typeof part === 'number') await sleep(part);
        else if (!socket.destroyed) socket.write(part);
        lastWrite = Date.now();
      }
    });
  });
}

function get(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${extra}\r\n`;
}

function bodyOf(reply: Exchange): string {
  return reply.raw.slice(reply.raw.indexOf('\r\n\r\n') + 4);
}

/** The env the app saw for an HTTP request. */
async function httpEnv(port: number, request: string): Promise<Record<string, string>> {
  const reply = await exchange(port, request);
  assert.is(reply.status, 200, reply.raw);
  return JSON.parse(bodyOf(reply)) as Record<string, string>;
}

/**
 * The log written since `from` (a length of server.log()), once every pattern is in it (or 5 s
 * passed): the app's stdout and the workers' log lines reach the master by different pipes.
 */
async function logSince(from: number, ...patterns: RegExp[]): Promise<string> {
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await sleep(50)) {
    const log = server.log().slice(from);
    if (patterns.every((pattern) => pattern.test(log))) break;
  }
  await sleep(100); // a line that must not come would have come by now
  return server.log().slice(from);
}

/** Both cores answer a plain request: nothing above left one wedged. */
async function assertCoresFree(): Promise<void> {
  const replies = await Promise.all([exchange(httpPort, get('/env?free-1'), 5000), exchange(httpPort, get('/env?free-2'), 5000), exchange(httpPort, get('/env?free-3'), 5000)]);
  for (const reply of replies) assert.is(reply.status, 200, `a plain GET after the attack: ${JSON.stringify(reply.raw.slice(0, 200))}`);
}

// ----- 1. malformed chunked bodies -----

test('a malformed chunk size fails the body read with TSGI_ERR_HTTP_PARSE: 400, the connection closes, the core frees', async () => {
  const badChunks = ['ffffffffffffffffff\r\n', 'zz\r\n', '-1\r\n', '5;ext=1\nx\r\nhello\r\n'];
  const from = server.log().length;
  // Four in parallel against two cores: before the fix these stopped the server for good.
  const replies = await Promise.all(badChunks.map((chunk, i) => exchange(httpPort, [
    `POST /read?chunk-${i} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n`, 200, chunk,
  ])));
  for (const [i, reply] of replies.entries()) {
    assert.is(reply.status, 400, `bad chunk ${JSON.stringify(badChunks[i])}: ${JSON.stringify(reply.raw)}`);
    assert.ok(reply.closed, 'the connection closes after the 400');
  }
  const log = await logSince(from, /read chunk-3 failed/, /(closing connection .*TSGI_ERR_HTTP_PARSE[^]*){4}/);
  for (let i = 0; i < badChunks.length; i++) assert.match(log, new RegExp(`hardening-app: read chunk-${i} failed: TSGI_ERR_HTTP_PARSE`));
  // One log line per bad request (the protocol's), no stack trace from the app's rethrow.
  assert.is(log.match(/http: closing connection .*TSGI_ERR_HTTP_PARSE/g)?.length, 4, log);
  assert.not.match(log, /app error on POST/);
  await assertCoresFree();
});

// ----- 2. request bodies that stop coming -----

test('HTTP: a body that stops for --socket-timeout fails the read with TSGI_ERR_REQUEST_TIMEOUT and gets 408', async () => {
  const from = server.log().length;
  const reply = await exchange(httpPort, ['POST /read?http-stall HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n0123456789', 300, 'a']);
  assert.is(reply.status, 408, JSON.stringify(reply.raw));
  assert.ok(reply.closed);
  assert.ok(reply.waited >= 900 && reply.waited <= 6000, `408 ${reply.waited} ms after the last byte (--socket-timeout 1)`);
  const log = await logSince(from, /read http-stall failed/, /http: .*TSGI_ERR_REQUEST_TIMEOUT/);
  assert.match(log, /hardening-app: read http-stall failed: TSGI_ERR_REQUEST_TIMEOUT/);
  assert.match(log, /http: .*TSGI_ERR_REQUEST_TIMEOUT/);
  await assertCoresFree();
});

test('HTTP: the timeout runs between body bytes, not over the whole body: a steady trickle is read whole', async () => {
  const parts: Array<string | number> = ['POST /read?trickle HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 8\r\n\r\n'];
  for (let i = 0; i < 8; i++) parts.push(350, 'x'); // ~2.8 s in all, 0.35 s apart (--socket-timeout 1)
  const reply = await exchange(httpPort, parts);
  assert.is(reply.status, 200, JSON.stringify(reply.raw));
  assert.is(bodyOf(reply), 'read 8\n');
});

test('uwsgi: a 4 GB CONTENT_LENGTH with a tiny body gets 408 after --socket-timeout, and the core frees', async () => {
  const from = server.log().length;
  const started = Date.now();
  const vars = nginxLikeVars('POST', '/read?uwsgi-stall', { params: { CONTENT_LENGTH: '4294967296' } });
  const reply = await uwsgiRequest({ port: uwsgiPort }, vars, 'tiny', { timeoutMs: 8000 });
  const waited = Date.now() - started;
  assert.is(reply.status, 408, reply.raw.toString('latin1'));
  assert.ok(waited >= 900 && waited <= 6000, `408 after ${waited} ms`);
  const log = await logSince(from, /read uwsgi-stall failed/, /uwsgi: .*TSGI_ERR_REQUEST_TIMEOUT/);
  assert.match(log, /hardening-app: read uwsgi-stall failed: TSGI_ERR_REQUEST_TIMEOUT/);
  assert.match(log, /uwsgi: .*TSGI_ERR_REQUEST_TIMEOUT/);
  await assertCoresFree();
});

test('FastCGI: STDIN that stops short of CONTENT_LENGTH gets Status: 408 after --socket-timeout, and the core frees', async () => {
  const from = server.log().length;
  const connection = new FastcgiConnection({ port: fastcgiPort });
  try {
    await connection.connected;
    const params = nginxLikeFastcgiParams('POST', '/read?fastcgi-stall', [['Host', 'x'], ['Content-Length', '100000']]);
    const started = Date.now();
    connection.write(Buffer.concat([encodeBeginRequest(1), encodeStream(TYPE.PARAMS, 1, encodeNameValues(params)), encodeRecord(TYPE.STDIN, 1, 'abc')]));
    await connection.waitRecord((record) => record.type === TYPE.END_REQUEST, 8000);
    const waited = Date.now() - started;
    const stdout = Buffer.concat(connection.records.filter((r) => r.type === TYPE.STDOUT).map((r) => r.content)).toString('latin1');
    assert.match(stdout, /^Status: 408 /, stdout);
    assert.ok(waited >= 900 && waited <= 6000, `408 after ${waited} ms`);
  } finally {
    connection.close();
  }
  const log = await logSince(from, /read fastcgi-stall failed/, /fastcgi: .*TSGI_ERR_REQUEST_TIMEOUT/);
  assert.match(log, /hardening-app: read fastcgi-stall failed: TSGI_ERR_REQUEST_TIMEOUT/);
  assert.match(log, /fastcgi: .*TSGI_ERR_REQUEST_TIMEOUT/);
  await assertCoresFree();
});

// ----- 3. response splitting through the status -----

test('a status with CR/LF in it is an app error (500): no injected header on HTTP or uwsgi', async () => {
  const from = server.log().length;
  const injected = encodeURIComponent('200 OK\r\nX-Injected: yes');
  const http = await exchange(httpPort, get(`/status?${injected}`));
  assert.is(http.status, 500, JSON.stringify(http.raw));
  assert.not.match(http.raw, /X-Injected/i);
  const uwsgi = await uwsgiRequest({ port: uwsgiPort }, nginxLikeVars('GET', `/status?${injected}`));
  assert.is(uwsgi.status, 500, uwsgi.raw.toString('latin1'));
  assert.not.match(uwsgi.raw.toString('latin1'), /X-Injected/i);
  // A control character other than CR/LF is refused too, as node:http does (ERR_INVALID_CHAR).
  const nul = await exchange(httpPort, get(`/status?${encodeURIComponent('200 O\0K')}`));
  assert.is(nul.status, 500, JSON.stringify(nul.raw));
  const log = await logSince(from, /(control characters are not allowed[^]*){3}/);
  assert.is(log.match(/app error on GET \/status/g)?.length, 3, log);
});

// ----- 4. wire vars named like tsgi keys -----

test('uwsgi: vars named tsgi.input / tsgi.signal are ignored with one log line; the request is served', async () => {
  const from = server.log().length;
  const vars = [...nginxLikeVars('GET', '/env?reserved'), ['tsgi.input', 'forged'], ['tsgi.signal', 'forged'], ['tsgi.core', '99']] as Array<[string, string]>;
  const reply = await uwsgiRequest({ port: uwsgiPort }, vars, undefined, { timeoutMs: 5000 });
  assert.is(reply.status, 200, reply.raw.toString('latin1'));
  const env = JSON.parse(reply.body.toString()) as Record<string, string>;
  assert.is(env['typeof tsgi.input'], 'function');
  assert.is(env['typeof tsgi.signal'], 'boolean');
  const log = await logSince(from, /uwsgi: .*TSGI_ERR_RESERVED_VAR/);
  assert.is(log.match(/uwsgi: .*ignored .*tsgi\./g)?.length, 1, log);
});

test('FastCGI: params named tsgi.input are ignored, logged once per connection; both keep-alive requests are served', async () => {
  const from = server.log().length;
  const connection = new FastcgiConnection({ port: fastcgiPort });
  try {
    const params = [...nginxLikeFastcgiParams('GET', '/env?reserved'), ['tsgi.input', 'forged'], ['tsgi.signal', 'forged']] as Array<[string, string]>;
    for (const id of [1, 2]) {
      const result = await connection.request(params, undefined, { requestId: id, keepConn: true, timeoutMs: 5000 });
      assert.is(result.status, 200, result.stdout.toString('latin1'));
      assert.is((JSON.parse(result.body.toString()) as Record<string, string>)['typeof tsgi.input'], 'function');
    }
  } finally {
    connection.close();
  }
  const log = await logSince(from, /fastcgi: .*TSGI_ERR_RESERVED_VAR/);
  assert.is(log.match(/fastcgi: .*ignored .*tsgi\./g)?.length, 1, log);
});

// ----- 5. HTTP edges, answered as nginx answers them -----

test('two Host headers get 400 (RFC 9112 §3.2)', async () => {
  const reply = await exchange(httpPort, 'GET /env HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n');
  assert.is(reply.status, 400, JSON.stringify(reply.raw));
  assert.ok(reply.closed);
});

test('HTTP/2.0 and HTTP/3.1 request lines get 505; HTTP/0.9 with headers gets 400 (as nginx)', async () => {
  for (const version of ['2.0', '3.1']) {
    const reply = await exchange(httpPort, `GET /env HTTP/${version}\r\nHost: x\r\n\r\n`);
    assert.is(reply.status, 505, `HTTP/${version}: ${JSON.stringify(reply.raw)}`);
    assert.ok(reply.closed);
  }
  const old = await exchange(httpPort, 'GET /env HTTP/0.9\r\nHost: x\r\n\r\n');
  assert.is(old.status, 400, JSON.stringify(old.raw));
});

test('CONNECT is refused with 405 (tsgi is no proxy), in authority and origin form', async () => {
  for (const target of ['example.com:443', '/']) {
    const reply = await exchange(httpPort, `CONNECT ${target} HTTP/1.1\r\nHost: example.com:443\r\n\r\n`);
    assert.is(reply.status, 405, `CONNECT ${target}: ${JSON.stringify(reply.raw)}`);
    assert.ok(reply.closed);
    assert.not.match(reply.raw, /REQUEST_METHOD/, 'the app never runs');
  }
});

test('OPTIONS * reaches the app with REQUEST_URI and PATH_INFO "*"; "*" with another method gets 400', async () => {
  const env = await httpEnv(httpPort, 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.is(env.REQUEST_METHOD, 'OPTIONS');
  assert.is(env.REQUEST_URI, '*');
  assert.is(env.PATH_INFO, '*');
  assert.is(env.QUERY_STRING, '');
  assert.is(env.SCRIPT_NAME, '');
  const reply = await exchange(httpPort, 'GET * HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.is(reply.status, 400, JSON.stringify(reply.raw));
});

// ----- 6. underscores in header names -----

test('header names with underscores are dropped (nginx underscores_in_headers off): no spoofed X-Forwarded-For', async () => {
  const env = await httpEnv(httpPort, get('/env', 'X-Forwarded-For: 1.1.1.1\r\nX_Forwarded_For: 6.6.6.6\r\nX_Only: 1\r\n'));
  assert.is(env.HTTP_X_FORWARDED_FOR, '1.1.1.1');
  assert.is(env.HTTP_X_ONLY, undefined);
});

test('--http-underscores-in-headers keeps them (and then they merge, as before)', async () => {
  const port = await pickPort();
  const kept = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--wsgi-file', APP, '--http-underscores-in-headers'], { cwd: FIXTURE_APPS });
  try {
    const env = await httpEnv(port, get('/env', 'X-Forwarded-For: 1.1.1.1\r\nX_Forwarded_For: 6.6.6.6\r\nX_Only: 1\r\n'));
    assert.is(env.HTTP_X_FORWARDED_FOR, '1.1.1.1, 6.6.6.6');
    assert.is(env.HTTP_X_ONLY, '1');
  } finally {
    await kept.stop();
  }
});

test.run();
