/**
 * Corners of the app contract through a real tsgi (--master, 1 worker, --ugreen): what a
 * generator returns, local RPC under yield/await, the bare-suspension warning, bare api calls
 * in signal handlers, and failures that must leave a log line (a throwing finally block, a
 * remote cache command cut short).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, sleep, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';
import { encodeArray } from '../helpers/uwsgi-client.js';

const port = await pickPort();
const socket = await pickPort();
const fifo = join(tempDir(), 'fifo');
let server: Server;

test.before(async () => {
  execFileSync('mkfifo', [fifo]);
  server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--socket', `127.0.0.1:${socket}`, '--module', 'contract',
    '--master', '--processes', '1', '--async', '8', '--ugreen', '--cache', '10'], { cwd: FIXTURE_APPS, env: { FIFO_PATH: fifo }, ready: /all 1 workers ready/ });
});
test.after(async () => {
  await server.stop();
});

const get = (path: string) => httpGet({ port, host: '127.0.0.1' }, path);
const countOf = (pattern: RegExp) => server.log().split('\n').filter((line) => pattern.test(line)).length;

test('a generator that returns a chunk sends it as its last chunk', async () => {
  assert.is((await get('/return-tail')).body, 'head\ntail\n');
  assert.is((await get('/return-bytes')).body, 'ok\n');
});

test('a returned chunk completes a body whose Content-Length promised it (no hang)', async () => {
  const result = await Promise.race([get('/return-tail-length'), sleep(3000).then(() => null)]);
  assert.ok(result !== null, 'the response ended');
  assert.is(result!.body, 'head\ntail');
});

test('a generator returning a non-chunk is an app error: 500 and one log line', async () => {
  const result = await get('/return-object');
  assert.is(result.status, 500);
  await server.waitFor(/app error on GET \/return-object: .*the generator returned an object/);
});

test("a local rpc('') yields and awaits to its value, like a remote one; call() stays synchronous", async () => {
  assert.is((await get('/rpc-local')).body, 'hello yield\nhello call\n');
  assert.is((await get('/rpc-local-await')).body, 'hello await\n');
});

test('under --ugreen a bare suspension left pending at a chunk warns once per app, naming yield*', async () => {
  assert.is((await get('/ugreen?who=Serena')).body, 'one\ntwo\n');
  assert.is((await get('/ugreen?who=Alessandro')).body, 'one\ntwo\n');
  await server.waitFor(/yield\*/);
  await sleep(100);
  assert.is(countOf(/yield\*/), 1, 'one warning line, not one per request');
});

test('bare api calls in a signal handler reach the handler thread: ready_fd and a bare sleep', async () => {
  await get('/raise?n=20');
  await get('/raise?n=21');
  let results: Record<string, unknown> = {};
  for (const end = Date.now() + 3000; Date.now() < end && !('sleptMs' in results && 'readyFd' in results);) {
    await sleep(50);
    results = JSON.parse((await get('/signal-results')).body) as Record<string, unknown>;
  }
  assert.is(results.readyFd, 'the fifo');
  assert.ok(Number(results.sleptMs) >= 280, `the bare sleep lasted ${String(results.sleptMs)} ms`);
});

test("an exception from an app's finally block is logged with its stack", async () => {
  await new Promise<void>((resolve, reject) => {
    const client = connect(port, '127.0.0.1', () => client.write('GET /finally-throws HTTP/1.1\r\nHost: x\r\n\r\n'));
    client.on('data', (chunk) => chunk.toString().includes('waiting') && (client.destroy(), resolve()));
    client.on('error', reject);
  });
  await server.waitFor(/finally block.*finally-boom.* \| +at /);
});

test('a remote cache command that fails (client gone mid-value) is logged', async () => {
  const dict = encodeArray(['cmd', 'set', 'key', 'k', 'size', '10']);
  const header = Buffer.from([111, dict.length & 0xff, dict.length >> 8, 17]);
  await new Promise<void>((resolve) => {
    const client = connect(socket, '127.0.0.1', () => {
      client.write(Buffer.concat([header, dict, Buffer.from('abc')]));
      setTimeout(() => client.destroy(), 100);
    });
    client.on('close', () => resolve());
  });
  await server.waitFor(/cache: remote set command failed: .*client closed before sending the whole body/);
});

test('mem() is [rss, vsz] of the worker, as the kernel counts them', async () => {
  const { pid, mem } = JSON.parse((await get('/mem')).body) as { pid: number; mem: [number, number] };
  const [size, resident] = readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ').map((pages) => Number(pages) * 4096);
  assert.ok(Math.abs(mem[0] - resident!) < resident! * 0.25, `rss ${mem[0]} vs ${resident}`);
  assert.ok(Math.abs(mem[1] - size!) < size! * 0.1, `vsz ${mem[1]} vs ${size}`);
});

test.run();
