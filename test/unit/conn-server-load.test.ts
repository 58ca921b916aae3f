/**
 * native.ConnServer under load against the real kernel: thousands of TCP and unix connections
 * from a client in another process, every one served, and the read() calls they cost counted.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConnServer, native } from '../../runtime/native.js';
import { track } from '../helpers/processes.js';

import { collect, listenTcp } from '../helpers/conn-server.js';

// --- many connections -------------------------------------------------------------------------

const PACKET_SIZE = 600;
const RESPONSE_SIZE = 100;
const received = new Uint32Array(1 << 16);
const requestIds = new Uint32Array(1 << 16);
const response = Buffer.alloc(RESPONSE_SIZE, 'r');
const counters = { served: 0, nulls: 0, queued: 0 };

/**
 * The server side of the load tests: no closure, no per-request allocation besides the chunk
 * the addon hands over. The response echoes the request id (the packet's first 4 bytes); one
 * Buffer serves every request, since write() has sent or copied it before returning.
 */
function serveUwsgiLike(this: ConnServer, fd: number, chunk: Buffer | null): void {
  if (chunk?.length === 0) return; // accepted before the client spoke
  if (chunk === null) {
    received[fd] = 0;
    counters.nulls++;
    return;
  }
  if (received[fd] === 0) requestIds[fd] = chunk.readUInt32LE(0);
  received[fd] += chunk.length;
  if (received[fd] < PACKET_SIZE) return;
  received[fd] = 0;
  response.writeUInt32LE(requestIds[fd]!, 0);
  if (!this.write(fd, response)) counters.queued++;
  this.end(fd);
  counters.served++;
}

function ignoreDrain(): void {}

test('1,000 sequential connections: 600-byte requests, 100-byte responses, connections back to 0', async () => {
  const { listenFd, port } = listenTcp();
  counters.served = counters.nulls = counters.queued = 0;
  const server = new ConnServer(listenFd, serveUwsgiLike, ignoreDrain);
  server.start();
  const packet = Buffer.alloc(PACKET_SIZE, 'p');
  let wrong = 0;
  for (let id = 0; id < 1000; id++) {
    const client = net.connect(port, '127.0.0.1');
    packet.writeUInt32LE(id, 0);
    client.write(Buffer.from(packet));
    const got = await collect(client);
    if (got.data.length !== RESPONSE_SIZE || got.data.readUInt32LE(0) !== id || !got.ended || got.error) wrong++;
  }
  assert.is(wrong, 0);
  assert.is(counters.served, 1000);
  assert.is(counters.nulls, 0);
  assert.is(server.connections, 0);
  server.close();
  native.close(listenFd);
});

/** A child process running `total` request/response connections, `concurrency` at a time. */
const LOAD_CLIENT = `
import net from 'node:net';
const [target, total, concurrency, size] = process.argv.slice(1).map((v, i) => i === 0 ? v : Number(v));
const options = /^\\d+$/.test(target) ? { port: Number(target), host: '127.0.0.1' } : { path: target };
let started = 0, finished = 0, bad = 0;
const firstError = [];
class Conn {
  constructor(id) {
    this.id = id; this.chunks = [];
    const packet = Buffer.alloc(size, 'p'); packet.writeUInt32LE(id, 0);
    this.socket = net.connect(options);
    this.socket.conn = this;
    this.socket.on('data', onData).on('end', onEnd).on('error', onError);
    this.socket.write(packet);
  }
}
function onData(chunk) { this.conn.chunks.push(chunk); }
function onEnd() {
  const data = Buffer.concat(this.conn.chunks);
  if (data.length !== ${RESPONSE_SIZE} || data.readUInt32LE(0) !== this.conn.id) bad++;
  this.destroy();
  next();
}
function onError(e) { bad++; if (firstError.length === 0) firstError.push(e.code); this.destroy(); next(); }
function next() {
  finished++;
  if (started < total) new Conn(started++);
  else if (finished === total) console.log(JSON.stringify({ finished, bad, firstError: firstError[0] }));
}
for (let i = 0; i < concurrency && started < total; i++) new Conn(started++);
`;

/** Runs LOAD_CLIENT against `target`; resolves with its report and the wall time. */
function runLoad(target: string, total: number, concurrency: number) {
  return new Promise<{ finished: number; bad: number; firstError?: string; ms: number }>((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', LOAD_CLIENT, target, String(total), String(concurrency), String(PACKET_SIZE)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    track('load client', child, { output: () => out });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`load client exited with ${code}: ${out}`));
      else resolve({ ...JSON.parse(out), ms: Date.now() - started });
    });
  });
}

/** read(2)-family calls this process has made so far (all threads), from /proc/self/io `syscr`. */
function readSyscalls(): number {
  return Number(/^syscr:\s+(\d+)/m.exec(readFileSync('/proc/self/io', 'latin1'))?.[1] ?? NaN);
}

/**
 * While `run` runs: µs of this process's CPU (user + system) per connection (a figure to print,
 * never asserted), and read(2) calls per connection. ConnServer makes a few per connection (at
 * accept, the request, EOF; about 3-4 over TCP, 3 over a unix socket, the load client's pipe
 * included): a busy loop re-reading a socket would show as hundreds.
 */
async function perConnection(total: number, run: () => Promise<unknown>): Promise<{ cpuUs: number; reads: number }> {
  const before = process.cpuUsage();
  const readsBefore = readSyscalls();
  await run();
  const used = process.cpuUsage(before);
  return { cpuUs: (used.user + used.system) / total, reads: (readSyscalls() - readsBefore) / total };
}

/** Generous (4× what is seen), so that a loaded machine cannot fail it, yet far below a storm. */
const MAX_READS_PER_CONNECTION = 16;

test('20,000 connections, 50 concurrent clients in another process: all served, a few read() calls per connection (server side)', async () => {
  const total = 20000;
  const { listenFd, port } = listenTcp();
  counters.served = counters.nulls = counters.queued = 0;
  const server = new ConnServer(listenFd, serveUwsgiLike, ignoreDrain);
  server.start();
  let report: Awaited<ReturnType<typeof runLoad>> | undefined;
  const used = await perConnection(total, async () => (report = await runLoad(String(port), total, 50)));
  server.close();
  native.close(listenFd);
  assert.equal({ finished: report!.finished, bad: report!.bad }, { finished: total, bad: 0 }, report!.firstError);
  assert.is(counters.served, total);
  assert.is(server.connections, 0);
  assert.ok(used.reads >= 1 && used.reads <= MAX_READS_PER_CONNECTION, `${used.reads.toFixed(2)} read() calls per connection (expected 1 to ${MAX_READS_PER_CONNECTION})`);
  console.log(`  ConnServer (TCP): ${used.cpuUs.toFixed(1)} µs CPU and ${used.reads.toFixed(2)} read() calls per connection (server side; the client is ` +
    `a node process), ${Math.round(total / (report!.ms / 1000))} connections/s, ${counters.queued} writes queued`);

  // A shorter run of the same load against net.Server, for comparison.
  const baseline = net.createServer({ noDelay: true }, onNetConnection);
  await new Promise<void>((resolve) => baseline.listen(0, '127.0.0.1', resolve));
  const basePort = (baseline.address() as net.AddressInfo).port;
  netServed = 0;
  const netUsed = await perConnection(5000, () => runLoad(String(basePort), 5000, 50));
  await new Promise((resolve) => baseline.close(resolve));
  assert.is(netServed, 5000);
  console.log(`  net.Server (TCP, 5,000 connections): ${netUsed.cpuUs.toFixed(1)} µs CPU per connection (server side)`);
});

let netServed = 0;
/** The net.Server equivalent of serveUwsgiLike (for the comparison figure only). */
function onNetConnection(socket: net.Socket): void {
  let length = 0;
  let id = 0;
  socket.on('data', function (this: net.Socket, chunk: Buffer) {
    if (length === 0) id = chunk.readUInt32LE(0);
    length += chunk.length;
    if (length < PACKET_SIZE) return;
    const answer = Buffer.alloc(RESPONSE_SIZE, 'r');
    answer.writeUInt32LE(id, 0);
    this.end(answer);
    netServed++;
  });
  socket.on('error', () => {});
}

test('unix socket under load: 5,000 connections, 50 concurrent', async () => {
  const file = path.join(os.tmpdir(), `tsgi-conn-load-${process.pid}.sock`);
  rmSync(file, { force: true });
  const listenFd = native.listenUnix(Buffer.from(`${file}\0`), 128);
  counters.served = counters.nulls = counters.queued = 0;
  const server = new ConnServer(listenFd, serveUwsgiLike, ignoreDrain);
  server.start();
  try {
    let report: Awaited<ReturnType<typeof runLoad>> | undefined;
    const used = await perConnection(5000, async () => (report = await runLoad(file, 5000, 50)));
    assert.equal({ finished: report!.finished, bad: report!.bad }, { finished: 5000, bad: 0 }, report!.firstError);
    assert.is(counters.served, 5000);
    assert.is(server.connections, 0);
    assert.ok(used.reads >= 1 && used.reads <= MAX_READS_PER_CONNECTION, `${used.reads.toFixed(2)} read() calls per connection (expected 1 to ${MAX_READS_PER_CONNECTION})`);
    console.log(`  ConnServer (unix): ${used.cpuUs.toFixed(1)} µs CPU and ${used.reads.toFixed(2)} read() calls per connection (server side)`);
  } finally {
    server.close();
    native.close(listenFd);
    rmSync(file, { force: true });
  }
});

test.run();
