/**
 * FastCGI through real peers and real sockets: nginx `fastcgi_pass` with Debian's
 * fastcgi_params (keep-alive upstream with `fastcgi_keep_conn on`, plain, unix socket),
 * `cgi-fcgi` from Debian's libfcgi-bin, and a hand-driven client for what those peers never send
 * (GET_VALUES, unknown types, a second concurrent request, ABORT_REQUEST, malformed records).
 * A missing nginx or cgi-fcgi makes these tests fail with a hint; they never skip.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  collectResult, decodeNameValues, encodeBeginRequest, encodeNameValues, encodeRecord, encodeRequest, FastcgiConnection, fastcgiRequest,
  nginxLikeFastcgiParams, PROTOCOL_STATUS, TYPE, type FastcgiParams,
} from '../helpers/fastcgi-client.js';
import { nginxBinary, startNginx, type Nginx, type Peer } from '../helpers/peers.js';
import { FIXTURE_APPS, sleep, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';
import { track } from '../helpers/processes.js';

const FASTCGI_PARAMS = '/etc/nginx/fastcgi_params';
const CGI_FCGI_HINT = 'run `bash .ci/install-deps` (as root) to install libfcgi-bin (cgi-fcgi) and nginx';

// ---------------------------------------------------------------- helpers

/** Starts tsgi, tracked so it cannot outlive this process; its stop() falls back to SIGKILL after 10 s. */
async function tsgi(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Server> {
  const server = await startTsgi(args, { cwd: FIXTURE_APPS, env });
  server.stop = () => server.tracked.stop(10_000);
  return server;
}

async function stopAll(...peers: Array<Peer | Server | null | undefined>): Promise<void> {
  for (const peer of peers.reverse()) if (peer) await peer.stop();
}

function sha1(data: Buffer): string {
  return createHash('sha1').update(data).digest('hex');
}

async function waitFor(check: () => boolean, timeoutMs = 3000): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(20)) if (check()) return true;
  return check();
}

interface Exchange {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  raw: Buffer;
  localPort: number;
}

/** One HTTP/1.1 request written byte for byte (send Connection: close), read until the server closes. */
function exchange(port: number, head: string, body?: Buffer, timeoutMs = 15_000): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let localPort = 0;
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 300))}`)));
    socket.on('connect', () => {
      localPort = socket.localPort!;
      socket.write(body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1'));
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const raw = Buffer.concat(chunks);
      const headEnd = raw.indexOf('\r\n\r\n');
      if (headEnd < 0) return reject(new Error(`no end of headers in ${JSON.stringify(raw.toString('latin1').slice(0, 300))}`));
      const [statusLine, ...lines] = raw.toString('latin1', 0, headEnd).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).toLowerCase();
        headers[name] = name in headers ? `${headers[name]}, ${line.slice(colon + 1).trim()}` : line.slice(colon + 1).trim();
      }
      let payload: Buffer = raw.subarray(headEnd + 4);
      if (/chunked/i.test(headers['transfer-encoding'] ?? '')) payload = dechunk(payload);
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: payload, raw, localPort });
    });
  });
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; ;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) throw new Error('truncated chunked body');
    const size = parseInt(data.toString('latin1', at, lineEnd), 16);
    if (size === 0) return Buffer.concat(parts);
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

function requestHead(method: string, target: string, headers: Array<[string, string]>): string {
  return `${method} ${target} HTTP/1.1\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
}

/** The params nginx sends for `include fastcgi_params;` evaluated with `vars`, then the headers not already set. */
function expectedFastcgiParams(vars: Record<string, string>, requestHeaders: Array<[string, string]>): Array<[string, string]> {
  const params: Array<[string, string]> = [];
  for (const line of readFileSync(FASTCGI_PARAMS, 'utf8').split('\n')) {
    const match = /^\s*fastcgi_param\s+(\S+)\s+(\S+?)(\s+if_not_empty)?\s*;/.exec(line);
    if (!match) continue;
    const [, name, value, ifNotEmpty] = match as unknown as [string, string, string, string | undefined];
    const evaluated = value.replace(/\$([a-z_]+)/g, (_, variable: string) => {
      if (!(variable in vars)) throw new Error(`fastcgi_params uses $${variable}, which this test does not know the value of`);
      return vars[variable]!;
    });
    if (ifNotEmpty && evaluated === '') continue;
    params.push([name, evaluated]);
  }
  const set = new Set(params.map(([name]) => name));
  const headers = requestHeaders
    .map(([name, value]): [string, string] => [`HTTP_${name.toUpperCase().replaceAll('-', '_')}`, value])
    .filter(([name]) => !set.has(name));
  return [...params, ...headers];
}

function nginxVersion(): string {
  const run = spawnSync(nginxBinary(), ['-v'], { encoding: 'utf8' });
  return /nginx\/(\S+)/.exec(`${run.stdout}${run.stderr}`)?.[1] ?? '';
}

function nginxErrors(nginx: Nginx): string[] {
  return nginx.errorLog().split('\n').filter((line) => /\[(error|crit|alert|emerg)\]/.test(line));
}

/** TCP connections on 127.0.0.1:port (the tsgi side) in `state`, as `ss` counts them. */
function connectionsOn(port: number, state: 'established' | 'time-wait'): number {
  const run = spawnSync('ss', ['-Htn', 'state', state, `( sport = :${port} )`], { encoding: 'utf8' });
  if (run.error) throw new Error(`ss failed (${run.error.message}): run \`bash .ci/install-deps\` to install iproute2`);
  return run.stdout.split('\n').filter((line) => line.trim() !== '').length;
}

/** Runs Debian's cgi-fcgi as a CGI program would be run: env = the CGI vars only, stdin = the body. */
function cgiFcgi(connectTo: string, env: Record<string, string>, body = Buffer.alloc(0)): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const binary = ['/usr/bin/cgi-fcgi', '/usr/local/bin/cgi-fcgi'].find((path) => existsSync(path));
  if (binary === undefined) throw new Error(`cgi-fcgi is not installed: ${CGI_FCGI_HINT}`);
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['-bind', '-connect', connectTo], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    track('cgi-fcgi', child, { output: () => stderr });
    const stdout: Buffer[] = [];
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(stdout), stderr });
    });
    // cgi-fcgi may be done (a GET) and gone before its stdin is closed: EPIPE then is no failure.
    child.stdin.on('error', () => {});
    child.stdin.end(body);
  });
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

test('a body that ends short of CONTENT_LENGTH fails the read (TSGI_ERR_FASTCGI_BODY → 500)', async () => {
  const result = await fastcgiRequest(tcp(), params('POST', '/echo', [['CONTENT_LENGTH', '100']]), 'only ten..');
  assert.is(result.status, 500);
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
    const lines = server.log().split('\n').filter((line) => line.startsWith('fastcgi: closing connection'));
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

test("Debian's cgi-fcgi -bind -connect (TCP and unix socket): GET env and a POST body", async () => {
  for (const connectTo of [`127.0.0.1:${port}`, unixPath]) {
    const get = await cgiFcgi(connectTo, { REQUEST_METHOD: 'GET', REQUEST_URI: '/env?from=cgi-fcgi', SCRIPT_NAME: '/env', SERVER_PROTOCOL: 'HTTP/1.1', QUERY_STRING: 'from=cgi-fcgi' });
    assert.is(get.code, 0, get.stderr);
    const text = get.stdout.toString('latin1');
    assert.ok(text.startsWith('Status: 200 OK\r\nContent-Type: application/json\r\n\r\n'), text.slice(0, 200));
    const env = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Record<string, string>;
    assert.equal([env.PATH_INFO, env.SCRIPT_NAME, env.QUERY_STRING, env.SERVER_PROTOCOL], ['/env', '', 'from=cgi-fcgi', 'HTTP/1.1']);

    const body = randomBytes(150_000);
    const post = await cgiFcgi(connectTo, { REQUEST_METHOD: 'POST', PATH_INFO: '/echo', CONTENT_LENGTH: String(body.length), CONTENT_TYPE: 'application/octet-stream' }, body);
    assert.is(post.code, 0, post.stderr);
    const out = post.stdout;
    const headEnd = out.indexOf('\r\n\r\n');
    assert.is(out.toString('latin1', 0, headEnd), 'Status: 200 OK\r\nContent-Type: application/octet-stream');
    assert.is(sha1(out.subarray(headEnd + 4)), sha1(body), 'the body came back intact');
  }
});

// ---------------------------------------------------------------- behind nginx

test('nginx fastcgi_pass + Debian fastcgi_params (keepalive upstream, fastcgi_keep_conn on; plain; unix): exact env, bodies, connection reuse', async () => {
  const upstream = await pickPort();
  const pooled = await pickPort();
  const plain = await pickPort();
  const overUnix = await pickPort();
  const dir = tempDir();
  const sock = join(dir, 'tsgi-fcgi.sock');
  let app: Server | undefined;
  let nginx: Nginx | undefined;
  try {
    app = await tsgi(['--socket', `127.0.0.1:${upstream}`, '--protocol', 'fastcgi', '--fastcgi-socket', sock, '--module', 'env-echo']);
    nginx = await startNginx({
      ports: [pooled, plain, overUnix],
      http: `    upstream tsgi_fastcgi {
        server 127.0.0.1:${upstream};
        keepalive 8;
    }
    server {
        listen 127.0.0.1:${pooled};
        server_name fcgi.test;
        client_max_body_size 10m;
        location / {
            include ${FASTCGI_PARAMS};
            fastcgi_keep_conn on;
            fastcgi_pass tsgi_fastcgi;
        }
    }
    server {
        listen 127.0.0.1:${plain};
        client_max_body_size 10m;
        location / {
            include ${FASTCGI_PARAMS};
            fastcgi_pass 127.0.0.1:${upstream};
        }
    }
    server {
        listen 127.0.0.1:${overUnix};
        client_max_body_size 10m;
        location / {
            include ${FASTCGI_PARAMS};
            fastcgi_pass unix:${sock};
        }
    }`,
    });

    // GET: percent-encoded UTF-8, a dot segment and a double slash in the path; a query string.
    const target = '/a%20b/caf%C3%A9/./x//y?q=1&r=%20';
    const headers: Array<[string, string]> = [['Host', `Fcgi.Test:${pooled}`], ['X-Custom', 'v1'], ['User-Agent', 'tsgi-test'], ['Connection', 'close']];
    const get = await exchange(pooled, requestHead('GET', target, headers));
    assert.is(get.status, 200, get.raw.toString('latin1').slice(0, 500));
    assert.is(get.headers['x-echo'], 'env-echo');
    assert.is(Number(get.headers['content-length']), get.body.length);
    const echo = JSON.parse(get.body.toString()) as { vars: Record<string, string>; body: { length: number } };
    const documentUri = Buffer.from('/a b/café/x/y', 'utf8').toString('latin1');
    const expected = expectedFastcgiParams({
      query_string: 'q=1&r=%20', request_method: 'GET', content_type: '', content_length: '',
      fastcgi_script_name: documentUri, request_uri: target, document_uri: documentUri, document_root: join(nginx.dir, 'html'),
      server_protocol: 'HTTP/1.1', scheme: 'http', https: '', nginx_version: nginxVersion(),
      remote_addr: '127.0.0.1', remote_port: String(get.localPort), remote_user: '', server_addr: '127.0.0.1',
      server_port: String(pooled), server_name: 'fcgi.test', host: 'fcgi.test',
    }, headers).map(([name, value]): [string, string] => [name, name === 'SCRIPT_NAME' ? '' : value]);
    // Exactly what nginx sent, in its order, plus the PATH_INFO the stock params leave out.
    assert.equal(Object.entries(echo.vars), [...expected, ['PATH_INFO', documentUri]]);
    assert.is(echo.body.length, 0);

    // POST bodies: 200 KB and 1 MB, and a chunked one nginx buffers and sends with CONTENT_LENGTH.
    for (const size of [200 * 1024, 1024 * 1024]) {
      const body = randomBytes(size);
      const post = await exchange(pooled, requestHead('POST', '/upload?x=1', [['Host', 'h'], ['Content-Type', 'application/octet-stream'], ['Content-Length', String(size)], ['Connection', 'close']]), body);
      assert.is(post.status, 200, post.raw.toString('latin1').slice(0, 500));
      const posted = JSON.parse(post.body.toString()) as { vars: Record<string, string>; body: { length: number; sha1: string } };
      assert.equal(posted.body, { length: size, sha1: sha1(body) }, `${size}-byte body intact`);
      assert.is(posted.vars.CONTENT_LENGTH, String(size));
      assert.is(posted.vars.PATH_INFO, '/upload');
    }
    const small = randomBytes(50_000);
    const chunked = Buffer.concat([Buffer.from(`${(30_000).toString(16)}\r\n`), small.subarray(0, 30_000), Buffer.from(`\r\n${(20_000).toString(16)}\r\n`), small.subarray(30_000), Buffer.from('\r\n0\r\n\r\n')]);
    const chunkedPost = await exchange(pooled, requestHead('POST', '/chunked', [['Host', 'h'], ['Transfer-Encoding', 'chunked'], ['Connection', 'close']]), chunked);
    assert.equal((JSON.parse(chunkedPost.body.toString()) as { body: unknown }).body, { length: small.length, sha1: sha1(small) });

    // Keep-alive: 100 sequential requests ride one upstream connection, which stays open.
    for (let i = 0; i < 100; i++) {
      const result = await exchange(pooled, requestHead('GET', `/seq/${i}`, [['Host', 'h'], ['Connection', 'close']]));
      assert.is(result.status, 200);
      assert.is((JSON.parse(result.body.toString()) as { vars: Record<string, string> }).vars.PATH_INFO, `/seq/${i}`);
    }
    assert.is(connectionsOn(upstream, 'established'), 1, 'one kept-alive upstream connection');
    assert.is(connectionsOn(upstream, 'time-wait'), 0, 'tsgi closed no upstream connection');
    // In parallel: still within the pool of 8.
    await Promise.all(Array.from({ length: 40 }, (_, i) => exchange(pooled, requestHead('GET', `/par/${i}`, [['Host', 'h'], ['Connection', 'close']])).then((r) => assert.is(r.status, 200))));
    assert.ok(connectionsOn(upstream, 'established') <= 8, `at most keepalive 8 upstream connections: ${connectionsOn(upstream, 'established')}`);

    // Without fastcgi_keep_conn tsgi closes after each response; over a unix socket too.
    for (const [front, label] of [[plain, 'plain'], [overUnix, 'unix']] as const) {
      for (let i = 0; i < 10; i++) {
        const result = await exchange(front, requestHead('GET', `/${label}/${i}?i=${i}`, [['Host', 'h'], ['Connection', 'close']]));
        assert.is(result.status, 200, `${label} ${i}: ${result.raw.toString('latin1').slice(0, 300)}`);
        const vars = (JSON.parse(result.body.toString()) as { vars: Record<string, string> }).vars;
        assert.equal([vars.PATH_INFO, vars.QUERY_STRING], [`/${label}/${i}`, `i=${i}`]);
      }
    }
    assert.equal(nginxErrors(nginx), [], 'nginx logged no upstream errors');
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- tsgi log:\n${app?.log().slice(-3000) ?? ''}\n--- nginx error log:\n${nginx?.errorLog() ?? ''}`);
  } finally {
    await stopAll(app, nginx);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nginx fastcgi_pass (keep-alive): statuses and big responses pass through; a client hang-up halts the green thread', async () => {
  const upstream = await pickPort();
  const front = await pickPort();
  const hangupMarkers = tempDir();
  let app: Server | undefined;
  let nginx: Nginx | undefined;
  try {
    app = await tsgi(['--socket', `127.0.0.1:${upstream}`, '--protocol', 'fastcgi', '--module', 'green', '--async', '8'], { TSGI_TEST_MARKERS: hangupMarkers });
    nginx = await startNginx({
      ports: [front],
      http: `    upstream tsgi_fastcgi {
        server 127.0.0.1:${upstream};
        keepalive 4;
    }
    server {
        listen 127.0.0.1:${front};
        location / {
            include ${FASTCGI_PARAMS};
            fastcgi_keep_conn on;
            fastcgi_buffering off;
            fastcgi_pass tsgi_fastcgi;
        }
    }`,
    });
    const close: Array<[string, string]> = [['Host', 'h'], ['Connection', 'close']];
    const missing = await exchange(front, requestHead('GET', '/nope', close));
    assert.is(missing.status, 404);
    assert.is(missing.body.toString(), 'no such route\n');
    const crash = await exchange(front, requestHead('GET', '/throw', close));
    assert.is(crash.status, 500);
    const big = await exchange(front, requestHead('GET', '/big', close), undefined, 30_000);
    assert.is(big.status, 200);
    assert.is(big.body.length, 64 * 64 * 1024 + 1, '4 MiB streamed through');

    // The client hangs up while the app sleeps: nginx drops the upstream connection, tsgi halts the thread.
    await new Promise<void>((resolve, reject) => {
      const socket = connect(front, '127.0.0.1', () => socket.write(requestHead('GET', '/cancel?id=nginx', [['Host', 'h']])));
      socket.on('data', (chunk: Buffer) => {
        if (chunk.toString('latin1').includes('waiting')) {
          socket.destroy();
          resolve();
        }
      });
      socket.on('error', reject);
      socket.setTimeout(5000, () => socket.destroy(new Error('no "waiting" within 5 s')));
    });
    assert.ok(await waitFor(() => existsSync(join(hangupMarkers, 'finally-nginx'))), 'the generator finally block ran');
    const after = await exchange(front, requestHead('GET', '/array', close));
    assert.is(after.body.toString(), 'xyz\n');
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- tsgi log:\n${app?.log().slice(-3000) ?? ''}\n--- nginx error log:\n${nginx?.errorLog() ?? ''}`);
  } finally {
    await stopAll(app, nginx);
  }
});

test.run();
