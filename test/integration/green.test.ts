/**
 * The green runtime through real processes and sockets: streaming order and timing, the
 * seed's async apps, 1,000 concurrent sleeps on one worker, cores-full backpressure,
 * cancellation on disconnect, fd waits, Promises and the app-contract errors.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, openSync, writeSync, closeSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, sleep, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

const markers = tempDir();
const port = await pickPort();
let server: Server;

test.before(async () => {
  server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'green', '--async', '1000'], { cwd: FIXTURE_APPS, env: { TSGI_TEST_MARKERS: markers } });
});
test.after(async () => {
  await server.stop();
});

const target = { port, host: '127.0.0.1' };

/** GET that records when each body chunk arrived (ms since the request started). */
function timedGet(path: string, p = port): Promise<{ chunks: Array<{ at: number; text: string }>; status: number; ended: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const chunks: Array<{ at: number; text: string }> = [];
    request({ host: '127.0.0.1', port: p, path, agent: false }, (res) => {
      res.on('data', (chunk: Buffer) => chunks.push({ at: Date.now() - started, text: chunk.toString() }));
      res.on('end', () => resolve({ chunks, status: res.statusCode!, ended: Date.now() - started }));
    }).on('error', reject).end();
  });
}

test('chunks reach the client as they are yielded, before the generator finishes', async () => {
  const { chunks } = await timedGet('/stream');
  const texts = chunks.map((c) => c.text).join('');
  assert.is(texts, 'chunk 0\nchunk 1\nchunk 2\n');
  const first = chunks.find((c) => c.text.includes('chunk 0'))!;
  const last = chunks.find((c) => c.text.includes('chunk 2'))!;
  assert.ok(first.at < 250, `first chunk after ${first.at} ms`);
  assert.ok(last.at >= 550, `last chunk after ${last.at} ms, expected after two 0.3 s sleeps`);
});

test('a bare async_sleep takes effect after the next chunk is sent', async () => {
  const { chunks } = await timedGet('/bare-sleep');
  const before = chunks.find((c) => c.text.includes('before'))!;
  const after = chunks.find((c) => c.text.includes('after'))!;
  assert.ok(before.at < 200, `before at ${before.at}`);
  assert.ok(after.at >= 280, `after at ${after.at}`);
});

test('1,000 concurrent async_sleep(1) requests on one worker finish in about a second', async () => {
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  const started = Date.now();
  const results = await Promise.all(Array.from({ length: 1000 }, () => new Promise<number>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/sleep?s=1', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    }).on('error', reject).end();
  })));
  const elapsed = Date.now() - started;
  assert.is(results.filter((s) => s === 200).length, 1000);
  assert.ok(elapsed < 5000, `took ${elapsed} ms; concurrent sleeps should take ~1 s`);
  assert.ok(elapsed >= 1000, `took ${elapsed} ms: the sleeps did not sleep`);
});

test('client disconnect halts the thread: finally runs, signal aborts, timer is gone', async () => {
  const { body: before } = await httpGet(target, '/timers');
  const socket = connect(port, '127.0.0.1');
  socket.write('GET /cancel?id=1 HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise<void>((resolve) => socket.once('data', () => resolve()));
  socket.destroy();
  for (let i = 0; i < 50 && !existsSync(join(markers, 'finally-1')); i++) await sleep(20);
  assert.ok(existsSync(join(markers, 'finally-1')), 'the generator finally block ran');
  assert.ok(existsSync(join(markers, 'aborted-1')), 'tsgi.signal aborted');
  const { body: after } = await httpGet(target, '/timers');
  assert.is(after, before, 'the 30 s sleep timer was cleared');
});

test('wait_fd_read wakes on a pipe when data arrives, and times out otherwise', async () => {
  const dir = tempDir();
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const pending = timedGet(`/fd?path=${encodeURIComponent(fifo)}&timeout=5`);
  await sleep(300);
  const writer = openSync(fifo, 'r+');
  writeSync(writer, 'hello\n');
  const { chunks } = await pending;
  closeSync(writer);
  const body = chunks.map((c) => c.text).join('');
  assert.is(body, 'read hello from fd same\n');
  assert.ok(chunks[0]!.at >= 280, `woke after ${chunks[0]!.at} ms, before the data was written`);
  const timeout = await timedGet(`/fd?path=${encodeURIComponent(fifo)}&timeout=0.2`);
  assert.is(timeout.chunks.map((c) => c.text).join(''), 'timeout\n');
});

test('Promises, async functions and async generators', async () => {
  assert.is((await httpGet(target, '/promise')).body, 'resolved\ncaught rejected\n');
  assert.is((await httpGet(target, '/async-fn', { method: 'POST', body: 'abc' })).body, 'async got 3 bytes\n');
  assert.is((await httpGet(target, '/async-gen')).body, 'a\nb\n');
  assert.is((await httpGet(target, '/array')).body, 'xyz\n');
});

test('a large streamed body respects backpressure and arrives whole', async () => {
  const { body } = await httpGet(target, '/big');
  assert.is(body.length, 64 * 64 * 1024 + 1);
});

test('request bodies: chunked and with Content-Length', async () => {
  const payload = 'p'.repeat(100_000);
  assert.is((await httpGet(target, '/echo', { method: 'POST', body: payload, headers: { 'Content-Type': 'text/plain' } })).body, payload);
  const chunked = await new Promise<string>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/echo', method: 'POST', agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.write('part1-');
    setTimeout(() => req.end('part2'), 50);
  });
  assert.is(chunked, 'part1-part2');
});

test('app errors become 500s, one log line each, and the worker carries on', async () => {
  for (const path of ['/throw', '/twice', '/no-start']) {
    const { status } = await httpGet(target, path);
    assert.is(status, 500, path);
  }
  await server.waitFor(/app error on GET \/throw: Error: boom \| at/);
  await server.waitFor(/start_response called twice/);
  assert.is((await httpGet(target, '/bad-yield')).body, 'TSGI_ERR_APP_YIELD\n');
  assert.is((await httpGet(target, '/array')).status, 200);
});

test('env carries the CGI variables and tsgi keys', async () => {
  const env = JSON.parse((await httpGet(target, '/env?a=1&b=%20')).body) as Record<string, unknown>;
  assert.is(env.REQUEST_METHOD, 'GET');
  assert.is(env.REQUEST_URI, '/env?a=1&b=%20');
  assert.is(env.PATH_INFO, '/env');
  assert.is(env.QUERY_STRING, 'a=1&b=%20');
  assert.is(env.SERVER_PROTOCOL, 'HTTP/1.1');
  assert.is(env.SERVER_PORT, String(port));
  assert.is(env.REMOTE_ADDR, '127.0.0.1');
  assert.is(env.HTTP_HOST, `127.0.0.1:${port}`);
  assert.is(env['tsgi.url_scheme'], 'http');
  assert.type(env['tsgi.core'], 'number');
  assert.is(env.worker, 1);
  assert.is(env.masterpid, 0);
  assert.is(env.cores, 1000);
});

test('all cores busy: connections wait in the backlog, none refused, one log line', async () => {
  const p = await pickPort();
  const small = await startTsgi(['--http-socket', `127.0.0.1:${p}`, '--module', 'green', '--async', '2'], { cwd: FIXTURE_APPS });
  try {
    const started = Date.now();
    const statuses = await Promise.all(Array.from({ length: 6 }, () => httpGet({ port: p, host: '127.0.0.1' }, '/sleep?s=0.5').then((r) => r.status)));
    const elapsed = Date.now() - started;
    assert.equal(statuses, [200, 200, 200, 200, 200, 200]);
    assert.ok(elapsed >= 1400, `6 half-second sleeps on 2 cores took ${elapsed} ms: they ran more than 2 at a time`);
    await small.waitFor(/async queue is full/);
  } finally {
    await small.stop();
  }
});

test('the seed apps: myapp hello, myapp:async, async2 and the uGreen example', async () => {
  const p = await pickPort();
  const seed = await startTsgi(['--http-socket', `127.0.0.1:${p}`, '--module', 'myapp', '--async', '10']);
  const pAsync = await pickPort();
  const seedAsync = await startTsgi(['--http-socket', `127.0.0.1:${pAsync}`, '--module', 'myapp:async', '--async', '4000']);
  const pUgreen = await pickPort();
  const ugreen = await startTsgi(['--http-socket', `127.0.0.1:${pUgreen}`, '--async', '4000', '--ugreen', '--module', 'ugreen', '--callable', 'async2']);
  try {
    assert.is((await httpGet({ port: p }, '/')).body, '<h1>Hello World</h1>');
    assert.is((await httpGet({ port: pAsync }, '/')).body, '<h1>One</h1><h2>Two</h2><h3>Three</h3>');
    const pAsync2 = await pickPort();
    const async2 = await startTsgi(['--http-socket', `127.0.0.1:${pAsync2}`, '--async', '4000', '--module', 'myapp', '--callable', 'async2']);
    try {
      // async2 sleeps 10 s; its bare async_sleep(20) applies after Three is sent, so the
      // response ends 20 s after Three. The uGreen example sleeps 10 s before Two and Three.
      const [a, u] = await Promise.all([timedGet('/', pAsync2), timedGet('/', pUgreen)]);
      const at = (chunks: typeof a.chunks, text: string) => chunks.find((c) => c.text.includes(text))!.at;
      assert.ok(at(a.chunks, 'One') < 1000);
      assert.ok(at(a.chunks, 'Two') >= 9900 && at(a.chunks, 'Two') < 12_000, `async2 Two at ${at(a.chunks, 'Two')}`);
      assert.ok(at(a.chunks, 'Three') < 12_000, `async2 Three at ${at(a.chunks, 'Three')}`);
      assert.ok(a.ended >= 29_900 && a.ended < 33_000, `async2 ended at ${a.ended}`);
      assert.ok(at(u.chunks, 'Two') >= 9900 && at(u.chunks, 'Two') < 12_000, `ugreen Two at ${at(u.chunks, 'Two')}`);
      assert.ok(at(u.chunks, 'Three') >= 19_900 && at(u.chunks, 'Three') < 23_000, `ugreen Three at ${at(u.chunks, 'Three')}`);
      assert.match(ugreen.log(), /Serena[\s\S]*Alessandro/);
    } finally {
      await async2.stop();
    }
  } finally {
    await Promise.all([seed.stop(), seedAsync.stop(), ugreen.stop()]);
  }
});

test('a TypeScript app runs without a build step', async () => {
  const p = await pickPort();
  const typed = await startTsgi(['--http-socket', `127.0.0.1:${p}`, '--wsgi-file', 'typed.ts', '--async', '4'], { cwd: FIXTURE_APPS });
  try {
    assert.is((await httpGet({ port: p }, '/ts')).body, 'typescript on /ts\n');
  } finally {
    await typed.stop();
  }
});

test.run();
