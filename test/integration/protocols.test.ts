/**
 * Each protocol on each socket kind, the HTTP/1.1 features node:http gives us, and malformed
 * input: a bad packet closes that connection only, with one log line.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { abstractPath } from '../../runtime/address.js';
import { native } from '../../runtime/native.js';
import { encodeUwsgiPacket, nginxLikeVars, parseRawHttpResponse, uwsgiRequest } from '../helpers/uwsgi-client.js';
import { FIXTURE_APPS, httpGet, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

const dir = tempDir();
const uwsgiPort = await pickPort();
const httpPort = await pickPort();
const unixPath = join(dir, 'uwsgi.sock');
const httpUnixPath = join(dir, 'http.sock');
const abstractName = `tsgi-test-${process.pid}`;
let server: Server;

test.before(async () => {
  server = await startTsgi([
    '--socket', `127.0.0.1:${uwsgiPort}`, '--socket', unixPath, '--socket', `@${abstractName}`,
    '--http-socket', `127.0.0.1:${httpPort}`, '--http-socket', httpUnixPath, '--http-socket', `@${abstractName}-http`,
    '--module', 'green', '--async', '64', '--master', '--processes', '2',
  ], { cwd: FIXTURE_APPS, ready: /all 2 workers ready/ });
});
test.after(async () => {
  const code = await server.stop();
  assert.is(code, 0, 'graceful shutdown exits 0');
});

/** Sends raw bytes on a connection to `@name` (exact uWSGI address) and reads until close. */
function rawAbstract(name: string, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = new Socket({ fd: native.connectUnix(abstractPath(name)), readable: true, writable: true });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.write(bytes);
  });
}

test('uwsgi over TCP: nginx-style vars in, raw HTTP out with SERVER_PROTOCOL', async () => {
  const response = await uwsgiRequest({ port: uwsgiPort, host: '127.0.0.1' }, nginxLikeVars('GET', '/env?x=1'));
  assert.is(response.status, 200);
  assert.is(response.statusLine, 'HTTP/1.1 200 OK');
  const env = JSON.parse(response.body.toString()) as Record<string, string>;
  assert.is(env.REQUEST_URI, '/env?x=1');
  assert.is(env.QUERY_STRING, 'x=1');
  assert.is(env.REQUEST_METHOD, 'GET');
});

test('uwsgi over a unix socket and over @abstract (uWSGI exact address)', async () => {
  const unix = await uwsgiRequest({ path: unixPath }, nginxLikeVars('GET', '/array'));
  assert.is(unix.body.toString(), 'xyz\n');
  const raw = await rawAbstract(abstractName, encodeUwsgiPacket(nginxLikeVars('GET', '/array')));
  assert.is(parseRawHttpResponse(raw).body.toString(), 'xyz\n');
});

test('uwsgi request body after the vars block reaches tsgi.input', async () => {
  const body = Buffer.alloc(300_000, 7);
  const vars = nginxLikeVars('POST', '/echo', { params: { CONTENT_LENGTH: String(body.length), CONTENT_TYPE: 'application/x-test' } });
  const response = await uwsgiRequest({ port: uwsgiPort, host: '127.0.0.1' }, vars, body);
  assert.is(response.status, 200);
  assert.ok(response.body.equals(body));
});

test('HTTP over TCP, unix and @abstract sockets', async () => {
  assert.is((await httpGet({ port: httpPort }, '/array')).body, 'xyz\n');
  assert.is((await httpGet({ socketPath: httpUnixPath }, '/array')).body, 'xyz\n');
  const raw = await rawAbstract(`${abstractName}-http`, Buffer.from('GET /array HTTP/1.0\r\n\r\n'));
  assert.match(raw.toString(), /^HTTP\/1\.1 200 OK[\s\S]*\r\n\r\nxyz\n$/);
});

test('HTTP keep-alive serves many requests on one connection; HEAD has no body', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const ports = new Set<number>();
  for (let i = 0; i < 20; i++) {
    await new Promise<void>((resolve, reject) => {
      request({ port: httpPort, path: '/array', agent }, (res) => {
        ports.add(res.socket.localPort!);
        res.resume();
        res.on('end', resolve);
      }).on('error', reject).end();
    });
  }
  agent.destroy();
  assert.is(ports.size, 1, 'one connection carried all 20 requests');
  const head = await httpGet({ port: httpPort }, '/array', { method: 'HEAD' });
  assert.is(head.status, 200);
  assert.is(head.body, '');
});

test('HTTP: chunked response without Content-Length, Expect: 100-continue', async () => {
  const streamed = await httpGet({ port: httpPort }, '/stream');
  assert.is(streamed.headers['transfer-encoding'], 'chunked');
  const continued = await new Promise<{ continued: boolean; body: string }>((resolve, reject) => {
    let continued = false;
    const req = request({ port: httpPort, path: '/echo', method: 'POST', headers: { Expect: '100-continue', 'Content-Length': '5' }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ continued, body }));
    });
    req.on('continue', () => {
      continued = true;
      req.end('hello');
    });
    req.on('error', reject);
  });
  assert.equal(continued, { continued: true, body: 'hello' });
});

/** Opens a raw TCP connection, writes `bytes`, resolves with what came back before close. */
function rawTcp(port: number, bytes: Buffer | string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? resolve(Buffer.concat(chunks)) : reject(error)));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.write(bytes);
  });
}

test('malformed uwsgi packets close only their connection, with one log line each', async () => {
  const good = encodeUwsgiPacket(nginxLikeVars('GET', '/array'));
  const lying = Buffer.from(good);
  lying.writeUInt16LE(good.length + 100, 1); // header claims more vars than follow
  const truncatedDict = Buffer.concat([Buffer.from([0, 8, 0, 0]), Buffer.from([5, 0]), Buffer.from('pip'), Buffer.from([9, 0, 0])]);
  const oversized = Buffer.concat([Buffer.from([0, 0x10, 0x27, 0]), Buffer.alloc(10_000, 1)]); // 10,000 > --buffer-size 4096
  const nullKey = Buffer.from([0, 7, 0, 0, 0, 0, 3, 0, 0x61, 0x62, 0x63]); // key length 0, value "abc"
  const slow = rawTcp(uwsgiPort, lying.subarray(0, lying.length)); // stays incomplete until the timeout
  for (const bad of [truncatedDict, oversized, nullKey]) assert.is((await rawTcp(uwsgiPort, bad)).length, 0);
  // Log lines are written once per event-loop turn: wait for them rather than race them.
  await server.waitFor(/TSGI_ERR_UWSGI_TRUNCATED_VARS/);
  await server.waitFor(/TSGI_ERR_UWSGI_BLOCK_SIZE: vars block of 10000 bytes exceeds --buffer-size 4096/);
  await server.waitFor(/TSGI_ERR_UWSGI_NULL_KEY/);
  const ok = parseRawHttpResponse(await rawTcp(uwsgiPort, good));
  assert.is(ok.body.toString(), 'xyz\n', 'other requests carry on');
  assert.is((await slow).length, 0, 'the lying packet is dropped after --socket-timeout');
  await server.waitFor(/TSGI_ERR_REQUEST_TIMEOUT/);
});

test('garbage on an HTTP socket gets a 400 and a log line; the worker carries on', async () => {
  const reply = (await rawTcp(httpPort, 'THIS IS NOT HTTP\r\n\r\n')).toString();
  assert.match(reply, /^HTTP\/1\.1 400 Bad Request/);
  await server.waitFor(/TSGI_ERR_HTTP_PARSE/);
  assert.is((await httpGet({ port: httpPort }, '/array')).body, 'xyz\n');
});

test('uwsgi: a connection whose bytes arrive while every core is busy waits, whole, for a core', async () => {
  const port = await pickPort();
  const single = await startTsgi(['--socket', `127.0.0.1:${port}`, '--module', 'green', '--async', '1', '--no-defer-accept'], { cwd: FIXTURE_APPS });
  try {
    // Accepted while idle (no bytes yet, so no core taken)…
    const waiting = connect(port, '127.0.0.1');
    await new Promise((resolve) => waiting.once('connect', resolve));
    await new Promise((resolve) => setTimeout(resolve, 100));
    // …then the only core goes to a sleeping request…
    const busy = uwsgiRequest({ port, host: '127.0.0.1' }, nginxLikeVars('GET', '/sleep?s=0.6'));
    await new Promise((resolve) => setTimeout(resolve, 150));
    // …and the waiting connection sends its packet in two parts while the core is busy.
    const packet = encodeUwsgiPacket(nginxLikeVars('GET', '/array'));
    const reply: Buffer[] = [];
    waiting.on('data', (chunk: Buffer) => reply.push(chunk));
    const closed = new Promise((resolve) => waiting.on('close', resolve));
    waiting.write(packet.subarray(0, 10));
    await new Promise((resolve) => setTimeout(resolve, 100));
    waiting.write(packet.subarray(10));
    assert.is((await busy).body.toString(), 'slept\n');
    await closed;
    assert.is(parseRawHttpResponse(Buffer.concat(reply)).body.toString(), 'xyz\n');
  } finally {
    await single.stop();
  }
});

/** The kernel's state of the server side of the connection from `clientPort` to `serverPort`. */
function serverSideState(serverPort: number, clientPort: number): string | undefined {
  const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, '0');
  const states: Record<string, string> = { '01': 'ESTABLISHED', '03': 'SYN_RECV' };
  for (const line of readFileSync('/proc/net/tcp', 'latin1').split('\n')) {
    const [, local, remote, state] = line.trim().split(/\s+/);
    if (local?.endsWith(`:${hex(serverPort)}`) && remote?.endsWith(`:${hex(clientPort)}`)) return states[state!] ?? state;
  }
  return undefined;
}

async function silentClient(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  await new Promise((resolve) => setTimeout(resolve, 200));
  return socket;
}

test('TCP sockets defer accept as uWSGI does; --no-defer-accept accepts at once', async () => {
  const deferred = await silentClient(uwsgiPort);
  assert.is(serverSideState(uwsgiPort, deferred.localPort!), 'SYN_RECV', 'a client that has sent nothing is not handed to a worker');
  const reply: Buffer[] = [];
  deferred.on('data', (chunk: Buffer) => reply.push(chunk));
  const closed = new Promise((resolve) => deferred.on('close', resolve));
  deferred.write(encodeUwsgiPacket(nginxLikeVars('GET', '/array')));
  await closed;
  assert.is(parseRawHttpResponse(Buffer.concat(reply)).body.toString(), 'xyz\n', 'its request is served once it speaks');

  const port = await pickPort();
  const eager = await startTsgi(['--socket', `127.0.0.1:${port}`, '--module', 'green', '--no-defer-accept'], { cwd: FIXTURE_APPS });
  try {
    const client = await silentClient(port);
    assert.is(serverSideState(port, client.localPort!), 'ESTABLISHED');
    client.destroy();
  } finally {
    await eager.stop();
  }
});

test('requests are spread over both pre-forked workers', async () => {
  const pids = new Set<string>();
  for (let i = 0; i < 200 && pids.size < 2; i++) pids.add((await httpGet({ port: httpPort }, '/pid')).body);
  assert.is(pids.size, 2);
});

test.run();
