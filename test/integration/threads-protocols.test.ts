/**
 * Every protocol in worker_threads: one process × 3 threads serving uwsgi, HTTP and FastCGI on
 * its inherited sockets (each thread on its own dups) and Mongrel2 over ZeroMQ (each thread
 * connects its own PULL and PUB, as uWSGI connects one PULL per worker thread). Parallel
 * CPU-bound requests must reach several threads over each protocol.
 */
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fastcgiRequest, nginxLikeFastcgiParams } from '../helpers/fastcgi-client.js';
import { Mongrel2Peer } from '../helpers/mongrel2-peer.js';
import { nginxLikeVars, uwsgiRequest } from '../helpers/uwsgi-client.js';
import { FIXTURE_APPS, httpGet, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

const THREADS = 3;
let server: Server;
let peer: Mongrel2Peer;
let uwsgiPort: number;
let httpPort: number;
const fastcgiPath = join(tempDir(), 'fastcgi.sock');

test.before(async () => {
  uwsgiPort = await pickPort();
  httpPort = await pickPort();
  const dir = tempDir();
  peer = await Mongrel2Peer.start(`ipc://${dir}/requests`, `ipc://${dir}/responses`);
  server = await startTsgi([
    '--socket', `127.0.0.1:${uwsgiPort}`, '--http-socket', `127.0.0.1:${httpPort}`, '--fastcgi-socket', fastcgiPath,
    '--zmq', `${peer.pushAddress},${peer.subAddress}`,
    '--wsgi-file', 'threads.js', '--master', '--threads', String(THREADS), '--disable-logging',
  ], { cwd: FIXTURE_APPS, ready: /all 1 workers ready/, timeoutMs: 30_000 });
  await peer.waitForHandlers(THREADS);
});
test.after(async () => {
  assert.is(await server.stop(), 0, 'graceful shutdown exits 0');
  await peer.close();
});

/** Runs `send` in parallel rounds until every thread has answered; returns the threads seen. */
async function threadsAnswering(send: () => Promise<string>): Promise<string[]> {
  const seen = new Set<string>();
  for (let round = 0; round < 15 && seen.size < THREADS; round++) {
    const bodies = await Promise.all(Array.from({ length: THREADS }, send));
    for (const body of bodies) seen.add(/thread (\d+) worker 1/.exec(body)?.[1] ?? `unexpected ${JSON.stringify(body)}`);
  }
  return [...seen].sort();
}

const ALL = Array.from({ length: THREADS }, (_, i) => String(i));

test('uwsgi protocol: every thread serves', async () => {
  const threads = await threadsAnswering(async () => (await uwsgiRequest({ port: uwsgiPort }, nginxLikeVars('GET', '/spin?ms=100'))).body.toString());
  assert.equal(threads, ALL, server.log());
});

test('HTTP: every thread serves', async () => {
  assert.equal(await threadsAnswering(async () => (await httpGet({ port: httpPort }, '/spin?ms=100')).body), ALL);
});

test('FastCGI: every thread serves', async () => {
  const threads = await threadsAnswering(async () => (await fastcgiRequest({ path: fastcgiPath }, nginxLikeFastcgiParams('GET', '/spin?ms=100'))).body.toString());
  assert.equal(threads, ALL);
});

test('Mongrel2 over ZeroMQ: each thread has its own PULL/PUB and serves', async () => {
  assert.is(peer.handlers, THREADS, 'one PULL connection per thread');
  const threads = await threadsAnswering(async () => (await peer.request('/spin?ms=100').done()).response().body.toString());
  assert.equal(threads, ALL);
});

test.run();
