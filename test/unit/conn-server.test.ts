/**
 * native.ConnServer against the real kernel: real TCP and unix sockets, Node clients in this
 * process and in child processes, worker threads. No mocks.
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

import { collect, connected, listenTcp, NATIVE_URL, Recorder, runNode, sleep, throwsCode, waitFor } from '../helpers/conn-server.js';

// --- one connection --------------------------------------------------------------------------

test('TCP: onData gets the request; write → true, end → the client reads the response, then a clean EOF', async () => {
  const { listenFd, port } = listenTcp();
  const rec = new Recorder();
  const server = new ConnServer(listenFd, rec.onData, rec.onDrain);
  server.start();
  try {
    const client = net.connect(port, '127.0.0.1');
    const result = collect(client);
    client.write('hello');
    await waitFor(() => rec.calls.length >= 1, 'onData');
    const { fd, chunk } = rec.data()[0]!;
    assert.is(chunk?.toString(), 'hello');
    assert.ok(Buffer.isBuffer(chunk));
    assert.is(server.connections, 1);
    assert.is(server.write(fd, Buffer.from('the response')), true);
    server.end(fd);
    assert.is(server.connections, 0, 'closed at once: nothing was queued');
    const got = await result;
    assert.is(got.data.toString(), 'the response');
    assert.ok(got.ended, 'EOF after the response');
    assert.is(got.error, undefined, 'no RST');
    assert.is(got.hadError, false);
    await sleep(20);
    assert.equal(rec.of(fd), ['hello'], 'no callback after end()');
    throwsCode(() => server.write(fd, Buffer.from('late')), 'ERR_INVALID_ARG_VALUE', TypeError);
  } finally {
    server.close();
  }
  assert.ok(native.localAddress(listenFd), 'close() leaves the caller\'s listenFd open');
  native.close(listenFd);
});

test('requests sent before accept arrive in the first onData, read inside the accept loop', async () => {
  const { listenFd, port } = listenTcp();
  const clients = [0, 1, 2].map((i) => {
    const client = net.connect(port, '127.0.0.1');
    client.write(`early ${i}`);
    return client;
  });
  const results = clients.map(collect);
  await Promise.all(clients.map(connected));
  await sleep(50); // the requests are in the kernel's queues before anything is accepted

  const seen: Array<[number, string | null]> = [];
  const rec = new Recorder();
  const server = new ConnServer(listenFd, function (fd, chunk) {
    if (chunk?.length === 0) return; // accepted before the client spoke
    // A read right after each accept sees 1, 2, 3 connections; reads after the whole batch
    // of accepts (a poll round trip) would all see 3.
    seen.push([this.connections, chunk && chunk.toString()]);
    rec.onData(fd, chunk);
    if (chunk !== null) {
      this.write(fd, Buffer.from(`answer to ${chunk.toString()}`));
      this.end(fd);
    }
  }, rec.onDrain);
  server.start();
  await waitFor(() => seen.length >= 3, 'three onData calls');
  assert.equal(seen.map(([count]) => count), [1, 1, 1], 'each answered inside its own onData');
  assert.equal(seen.map(([, text]) => text).sort(), ['early 0', 'early 1', 'early 2']);
  const texts = (await Promise.all(results)).map((r) => r.data.toString());
  assert.equal(texts, ['answer to early 0', 'answer to early 1', 'answer to early 2']);
  assert.is(server.connections, 0);
  server.close();
  native.close(listenFd);
});

test('the read happens right after each accept (connections seen: 1, 2, 3)', async () => {
  const { listenFd, port } = listenTcp();
  const clients = [0, 1, 2].map((i) => {
    const client = net.connect(port, '127.0.0.1');
    client.write(`r${i}`);
    return client;
  });
  const results = clients.map(collect);
  await Promise.all(clients.map(connected));
  await sleep(50);
  const counts: number[] = [];
  const fds: number[] = [];
  const server = new ConnServer(listenFd, function (fd, chunk) {
    if (chunk?.length === 0) return; // accepted before the client spoke
    if (chunk !== null) {
      counts.push(this.connections);
      fds.push(fd);
    }
  }, () => {});
  server.start();
  await waitFor(() => counts.length >= 3, 'three requests');
  assert.equal(counts, [1, 2, 3]);
  for (const fd of fds) server.destroy(fd);
  assert.is(server.connections, 0);
  for (const result of await Promise.all(results)) assert.ok(result.ended || result.error !== undefined);
  server.close();
  native.close(listenFd);
});

test('a response larger than the socket buffers to a slow reader: false, onDrain, end → every byte', async () => {
  const { listenFd, port } = listenTcp();
  const rec = new Recorder();
  const server = new ConnServer(listenFd, rec.onData, rec.onDrain);
  server.start();
  const big = Buffer.allocUnsafe(8 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i);
  const tail = Buffer.from('<the end>');

  const client = net.connect(port, '127.0.0.1');
  client.pause();
  const chunks: Buffer[] = [];
  const done = new Promise<boolean>((resolve) => client.on('end', () => resolve(true)));
  client.write('give me a lot');
  await waitFor(() => rec.calls.length >= 1, 'the request');
  const fd = rec.data()[0]!.fd;
  assert.is(server.write(fd, big), false, 'the rest is queued');
  assert.is(server.write(fd, tail), false, 'queued behind it, in order');
  big.fill(0, big.length - 1024); // write() copied what it queued: the caller may reuse its buffer
  await sleep(50);
  assert.equal(rec.of(fd), ['give me a lot'], 'no drain while the client does not read');

  // The client now reads slowly: one chunk per timer tick.
  client.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    client.pause();
    setTimeout(() => client.resume(), 1);
  });
  client.resume();
  await waitFor(() => rec.calls.some((call) => call.kind === 'drain'), 'onDrain', 20000);
  assert.equal(rec.of(fd), ['give me a lot', 'drain']);
  server.end(fd);
  await done;
  const received = Buffer.concat(chunks);
  for (let i = big.length - 1024; i < big.length; i += 4) big.writeUInt32LE(i, i);
  assert.is(received.length, big.length + tail.length);
  assert.ok(received.subarray(0, big.length).equals(big), 'every byte, in order');
  assert.is(received.subarray(big.length).toString(), '<the end>');
  assert.is(server.connections, 0);
  client.destroy();
  server.close();
  native.close(listenFd);
});

test('a client that has sent nothing yet is reported at accept with an empty Buffer, then its bytes follow', async () => {
  const listenFd = native.listenTcp('127.0.0.1', 0, 16);
  const port = (native.localAddress(listenFd) as { port: number }).port;
  const seen: Array<number | null> = [];
  const server = new ConnServer(listenFd, function (fd, chunk) {
    seen.push(chunk === null ? null : chunk.length);
    if (chunk !== null && chunk.length > 0) this.end(fd);
  }, () => {});
  server.start();
  const socket = net.connect(port, '127.0.0.1');
  try {
    await waitFor(() => seen.length >= 1, 'the accept report');
    assert.equal(seen, [0], 'reported before any byte, with an empty Buffer');
    socket.write('hello');
    await waitFor(() => seen.length >= 2, 'the bytes');
    assert.equal(seen, [0, 5]);
  } finally {
    socket.destroy();
    server.close();
    native.close(listenFd);
  }
});

test('waiting connections ready in one batch: destroying one from another\'s onData stops its callback', async () => {
  const { listenFd, port } = listenTcp();
  const waiting: number[] = [];
  const seen: Array<[number, string | null]> = [];
  const server = new ConnServer(listenFd, function (fd, chunk) {
    if (chunk !== null && chunk.length === 0) return void waiting.push(fd);
    seen.push([fd, chunk === null ? null : chunk.toString('latin1')]);
    if (seen.length > 1) return;
    for (const other of waiting) if (other !== fd) this.destroy(other);
    this.end(fd, Buffer.from('first'));
  }, () => {});
  server.start();
  const clients = [net.connect(port, '127.0.0.1'), net.connect(port, '127.0.0.1'), net.connect(port, '127.0.0.1')];
  try {
    const results = clients.map(collect);
    await waitFor(() => waiting.length === 3, 'three connections accepted with nothing to read (now in the epoll set)');
    for (const [i, client] of clients.entries()) client.write(`client ${i}`); // one tick: one epoll batch
    const got = await Promise.all(results);
    assert.is(seen.length, 1, `one onData, the destroyed ones got none: ${JSON.stringify(seen)}`);
    assert.is(got.filter((r) => r.data.toString() === 'first').length, 1);
    assert.is(server.connections, 0);
  } finally {
    for (const client of clients) client.destroy();
    server.close();
    native.close(listenFd);
  }
});

test('the client closes or resets: onData(fd, null) exactly once, then nothing', async () => {
  const { listenFd, port } = listenTcp();
  const rec = new Recorder();
  const server = new ConnServer(listenFd, rec.onData, rec.onDrain);
  server.start();

  const polite = net.connect(port, '127.0.0.1');
  polite.write('x');
  await waitFor(() => rec.calls.length >= 1, 'x');
  const fd = rec.data()[0]!.fd;
  polite.end();
  await waitFor(() => rec.of(fd).includes(null), 'null after FIN');
  await sleep(30);
  assert.equal(rec.of(fd), ['x', null]);
  assert.is(server.connections, 0);
  throwsCode(() => server.end(fd), 'ERR_INVALID_ARG_VALUE');

  const rude = net.connect(port, '127.0.0.1');
  rude.write('y');
  await waitFor(() => rec.calls.length >= 3, 'y');
  const fd2 = rec.data()[2]!.fd;
  rude.resetAndDestroy();
  await waitFor(() => rec.of(fd2).includes(null), 'null after RST');
  await sleep(30);
  assert.equal(rec.of(fd2), ['y', null]);
  assert.is(server.connections, 0);
  server.close();
  native.close(listenFd);
});

test('writing to a reset peer does not throw: false, then onData(fd, null) once', async () => {
  const { listenFd, port } = listenTcp();
  const rec = new Recorder();
  const server = new ConnServer(listenFd, rec.onData, rec.onDrain);
  server.start();
  const client = net.connect(port, '127.0.0.1');
  client.write('z');
  await waitFor(() => rec.calls.length >= 1, 'z');
  const fd = rec.data()[0]!.fd;
  server.pauseReading(fd); // so only the write can notice the reset
  client.resetAndDestroy();
  await sleep(30);
  assert.equal(rec.of(fd), ['z'], 'paused: the reset is not seen by reading');
  assert.is(server.write(fd, Buffer.alloc(1000, 'w')), false);
  assert.is(server.write(fd, Buffer.alloc(10, 'w')), false, 'still false, still no throw');
  assert.equal(rec.of(fd), ['z'], 'not reported from inside write()');
  await waitFor(() => rec.of(fd).includes(null), 'null after the failed write');
  await sleep(20);
  assert.equal(rec.of(fd), ['z', null]);
  assert.is(server.connections, 0);
  server.close();
  native.close(listenFd);
});

test('pause(): connections wait in the backlog until resume(); pause() inside onData stops the accept loop', async () => {
  const { listenFd, port } = listenTcp();
  const rec = new Recorder();
  const server = new ConnServer(listenFd, rec.onData, rec.onDrain);
  server.start();
  server.pause();
  const client = net.connect(port, '127.0.0.1');
  await connected(client); // the kernel completed the handshake: the connection is in the backlog
  client.write('p');
  await sleep(100);
  assert.is(rec.calls.length, 0, 'not accepted while paused');
  assert.is(server.connections, 0);
  server.resume();
  await waitFor(() => rec.calls.length >= 1, 'p after resume');
  assert.is(rec.data()[0]!.chunk?.toString(), 'p');
  server.destroy(rec.data()[0]!.fd);
  client.destroy();

  // Three requests queued; the first onData pauses: the loop must not accept the other two.
  server.pause();
  const others = [0, 1, 2].map(() => net.connect(port, '127.0.0.1'));
  await Promise.all(others.map(connected));
  for (const other of others) other.write('q');
  await sleep(50);
  let pausedIn = 0;
  const pausing = new ConnServer(listenFd, function (fd, chunk) {
    if (chunk?.length === 0) return; // accepted before the client spoke
    if (chunk === null) return;
    if (pausedIn++ === 0) this.pause();
    this.destroy(fd);
  }, () => {});
  server.close();
  pausing.start();
  await sleep(50);
  assert.is(pausedIn, 1, 'one connection, then the loop stopped');
  pausing.resume();
  await waitFor(() => pausedIn === 3, 'the other two after resume');
  for (const other of others) other.destroy();
  pausing.close();
  native.close(listenFd);
});

test('close() inside onData stops accepting at once; open connections carry on', async () => {
  const { listenFd, port } = listenTcp();
  const clients = [0, 1].map(() => net.connect(port, '127.0.0.1'));
  await Promise.all(clients.map(connected));
  for (const client of clients) client.write('c');
  await sleep(50);
  const fds: number[] = [];
  const server = new ConnServer(listenFd, function (fd, chunk) {
    if (chunk?.length === 0) return; // accepted before the client spoke
    if (chunk === null) return;
    fds.push(fd);
    this.close();
  }, () => {});
  server.start();
  await sleep(50);
  assert.is(fds.length, 1);
  assert.is(server.connections, 1);
  throwsCode(() => server.start(), 'ERR_INVALID_STATE');
  const result = collect(clients[0]!);
  assert.is(server.write(fds[0]!, Buffer.from('still served')), true);
  server.end(fds[0]!);
  assert.is((await result).data.toString(), 'still served');
  const waiting = native.accept(listenFd);
  assert.ok(waiting >= 0, 'the second connection is still in the backlog');
  native.close(waiting);
  clients[1]!.destroy();
  native.close(listenFd);
});

test('destroy(fd): the client sees the connection close', async () => {
  const { listenFd, port } = listenTcp();
  const rec = new Recorder();
  const server = new ConnServer(listenFd, rec.onData, rec.onDrain);
  server.start();
  const client = net.connect(port, '127.0.0.1');
  const result = collect(client);
  client.write('d');
  await waitFor(() => rec.calls.length >= 1, 'd');
  const fd = rec.data()[0]!.fd;
  server.destroy(fd);
  assert.is(server.connections, 0);
  const got = await result;
  assert.is(got.data.length, 0);
  assert.ok(got.ended, 'closed');
  await sleep(20);
  assert.equal(rec.of(fd), ['d']);
  server.close();
  native.close(listenFd);
});

test('pauseReading/resumeReading: data waits in the kernel, then arrives', async () => {
  const { listenFd, port } = listenTcp();
  const rec = new Recorder();
  const server = new ConnServer(listenFd, rec.onData, rec.onDrain);
  server.start();
  const client = net.connect(port, '127.0.0.1');
  client.write('first');
  await waitFor(() => rec.calls.length >= 1, 'first');
  const fd = rec.data()[0]!.fd;
  server.pauseReading(fd);
  client.write('second');
  await sleep(50);
  assert.equal(rec.of(fd), ['first']);
  server.resumeReading(fd);
  await waitFor(() => rec.calls.length >= 2, 'second');
  assert.equal(rec.of(fd), ['first', 'second']);
  client.end();
  await waitFor(() => rec.of(fd).includes(null), 'null');
  server.close();
  native.close(listenFd);
});

test('a unix socket: request, end(fd, response) writes then closes, EOF', async () => {
  const file = path.join(os.tmpdir(), `tsgi-conn-${process.pid}.sock`);
  rmSync(file, { force: true });
  const listenFd = native.listenUnix(Buffer.from(`${file}\0`), 128);
  const rec = new Recorder();
  const server = new ConnServer(listenFd, rec.onData, rec.onDrain);
  server.start();
  try {
    const client = net.connect(file);
    const result = collect(client);
    client.write('over unix');
    await waitFor(() => rec.calls.length >= 1, 'request');
    const { fd, chunk } = rec.data()[0]!;
    assert.is(chunk?.toString(), 'over unix');
    server.end(fd, Buffer.from('unix answer'));
    assert.is(server.connections, 0);
    const got = await result;
    assert.is(got.data.toString(), 'unix answer');
    assert.ok(got.ended && got.error === undefined);
  } finally {
    server.close();
    native.close(listenFd);
    rmSync(file, { force: true });
  }
});

test('programmer errors throw; peer errors never do', () => {
  const { listenFd } = listenTcp();
  const server = new ConnServer(listenFd, () => {}, () => {});
  try {
    throwsCode(() => server.write(12345, Buffer.from('x')), 'ERR_INVALID_ARG_VALUE', TypeError);
    throwsCode(() => server.end(0), 'ERR_INVALID_ARG_VALUE', TypeError);
    throwsCode(() => server.destroy(1), 'ERR_INVALID_ARG_VALUE', TypeError);
    throwsCode(() => server.pauseReading(2), 'ERR_INVALID_ARG_VALUE', TypeError);
    throwsCode(() => server.write(-1, Buffer.from('x')), 'ERR_OUT_OF_RANGE', RangeError);
    throwsCode(() => (ConnServer as unknown as (a: number, b: () => void, c: () => void) => void)(listenFd, () => {}, () => {}), 'ERR_CONSTRUCT_CALL_REQUIRED');
    throwsCode(() => new ConnServer(listenFd, 'x' as unknown as () => void, () => {}), 'ERR_INVALID_ARG_TYPE', TypeError);
    throwsCode(() => new ConnServer(99999, () => {}, () => {}), 'EBADF');
    // A foreign receiver: V8's own receiver check ("Illegal invocation") or the addon's
    // ERR_INVALID_THIS, never a crash, even for another of the addon's wrapped objects.
    assert.throws(() => ConnServer.prototype.start.call({}), TypeError);
    const [r, w] = native.pipe();
    const poll = new native.Poll(r, () => {});
    assert.throws(() => ConnServer.prototype.write.call(poll, 0, Buffer.alloc(1)), TypeError);
    poll.close();
    native.close(r);
    native.close(w);
    assert.is(server.connections, 0);
    server.unref();
    server.ref();
    server.close();
    server.close();
    throwsCode(() => server.start(), 'ERR_INVALID_STATE');
  } finally {
    native.close(listenFd);
  }
});

test('non-Buffer data is a TypeError', async () => {
  const { listenFd, port } = listenTcp();
  const rec = new Recorder();
  const server = new ConnServer(listenFd, rec.onData, rec.onDrain);
  server.start();
  const client = net.connect(port, '127.0.0.1');
  client.write('t');
  await waitFor(() => rec.calls.length >= 1, 't');
  const fd = rec.data()[0]!.fd;
  throwsCode(() => server.write(fd, 'text' as unknown as Buffer), 'ERR_INVALID_ARG_TYPE', TypeError);
  assert.is(server.write(fd, new Uint8Array([0x6f, 0x6b]) as Buffer), true, 'any Uint8Array is bytes');
  throwsCode(() => server.end(fd, 'text' as unknown as Buffer), 'ERR_INVALID_ARG_TYPE', TypeError);
  assert.is(server.connections, 1, 'a rejected end() leaves the connection open');
  server.end(fd);
  client.destroy();
  server.close();
  native.close(listenFd);
});

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

// --- lifetime ----------------------------------------------------------------------------------

test('keeps the loop alive while started (unless unref) and while connections are open', () => {
  const started = runNode(`const fd = native.listenTcp('127.0.0.1', 0, 8);
    new ConnServer(fd, () => {}, () => {}).start();`, { timeout: 700 });
  assert.is(started.signal, 'SIGTERM', 'a started server keeps the process running');

  const unrefd = runNode(`const fd = native.listenTcp('127.0.0.1', 0, 8);
    const s = new ConnServer(fd, () => {}, () => {}); s.start(); s.unref();
    process.on('exit', () => console.log('exited'));`);
  assert.is(unrefd.status, 0, unrefd.stderr);
  assert.is(unrefd.stdout.trim(), 'exited');

  // Closed inside onData with the connection still open: the process lives until end().
  const closed = runNode(`import net from 'node:net';
    const fd = native.listenTcp('127.0.0.1', 0, 8);
    const { port } = native.localAddress(fd);
    new ConnServer(fd, function (conn, chunk) {
      if (chunk?.length === 0) return; // accepted before the client spoke
      if (chunk === null) return;
      this.close();
      native.close(fd);
      this.pauseReading(conn); // no poll on it now: only the open connection itself holds the loop
      setTimeout(() => {
        console.log('open', this.connections);
        this.write(conn, Buffer.from('bye'));
        this.end(conn);
        client.ref();
      }, 100).unref();
    }, () => {}).start();
    const client = net.connect(port, '127.0.0.1', () => client.write('hi'));
    client.on('data', (d) => console.log('client got', d.toString()));
    client.on('end', () => { console.log('end'); client.destroy(); });
    client.unref();
    process.on('exit', () => console.log('exited'));`);
  assert.is(closed.status, 0, closed.stderr);
  assert.equal(closed.stdout.trim().split('\n'), ['open 1', 'client got bye', 'end', 'exited']);
});

test('GC: an unstarted or closed server is collected (its dup closed) even when its callbacks reference it', () => {
  const child = runNode(`const { readdirSync } = await import('node:fs');
    const fds = () => readdirSync('/proc/self/fd').length;
    const fd = native.listenTcp('127.0.0.1', 0, 8);
    const before = fds();
    for (let i = 0; i < 100; i++) { const s = new ConnServer(fd, () => s.connections, () => s); if (i % 2) { s.start(); s.close(); } }
    const during = fds();
    for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((ok) => setTimeout(ok, 10)); }
    console.log(during - before >= 50, fds() - before);`, { flags: ['--expose-gc'] });
  assert.is(child.status, 0, child.stderr);
  assert.is(child.stdout.trim(), 'true 0');
});

test('a worker thread exiting with open connections does not crash the process', () => {
  const inWorker = (code: string) => `import(${JSON.stringify(NATIVE_URL)}).then(async ({ native, ConnServer }) => {
    const net = await import('node:net');
    const { parentPort } = await import('node:worker_threads');
    const fd = native.listenTcp('127.0.0.1', 0, 8);
    const { port } = native.localAddress(fd);
    let queued = false;
    const server = new ConnServer(fd, function (conn, chunk) {
      if (chunk?.length === 0) return; // accepted before the client spoke
      if (chunk === null || queued) return;
      queued = !this.write(conn, Buffer.alloc(16 << 20)); // a client that never reads: stays queued
      ${code}
    }, () => {});
    server.start();
    const client = net.connect(port, '127.0.0.1', () => client.write('x'));
    client.pause();
  });`;
  const workers = runNode(`import { Worker } from 'node:worker_threads';
    const run = (code) => new Promise((done) => new Worker(code, { eval: true })
      .on('message', function (m) { console.log(m); this.terminate(); }).on('exit', done));
    console.log(await run(${JSON.stringify(inWorker("parentPort.postMessage('queued ' + queued + ' ' + this.connections);"))}));
    console.log(await run(${JSON.stringify(inWorker('process.exit(7);'))}));`, { bare: true, timeout: 20000 });
  assert.is(workers.signal, null, workers.stderr);
  assert.is(workers.status, 0, workers.stderr);
  assert.equal(workers.stdout.trim().split('\n'), ['queued true 1', '1', '7'], 'terminated, process.exit');
});

test('a throwing onData becomes an uncaughtException and the connection stays usable', () => {
  const child = runNode(`import net from 'node:net';
    const fd = native.listenTcp('127.0.0.1', 0, 8);
    const { port } = native.localAddress(fd);
    process.on('uncaughtException', (e) => console.log('caught', e.message));
    let calls = 0;
    const server = new ConnServer(fd, function (conn, chunk) {
      if (chunk?.length === 0) return; // accepted before the client spoke
      if (chunk === null) return;
      if (calls++ === 0) throw new Error('boom');
      this.write(conn, Buffer.from('after ' + chunk.toString())); this.end(conn); this.close();
    }, () => {});
    server.start();
    const client = net.connect(port, '127.0.0.1', () => client.write('one'));
    client.on('data', (d) => console.log(d.toString()));
    setTimeout(() => client.write('two'), 100);`);
  assert.is(child.status, 0, child.stderr);
  assert.equal(child.stdout.trim().split('\n'), ['caught boom', 'after two']);
});

test('EMFILE: accepting backs off (no busy loop) and resumes once fds are free', async () => {
  const script = `import { native, ConnServer } from ${JSON.stringify(NATIVE_URL)};
    const fd = native.listenTcp('127.0.0.1', 0, 8);
    const { port } = native.localAddress(fd);
    const spare = [];
    let servedAt = 0;
    const server = new ConnServer(fd, function (conn, chunk) {
      if (chunk?.length === 0) return; // accepted before the client spoke
      if (chunk === null) return;
      servedAt = Date.now();
      this.write(conn, Buffer.from('served')); this.end(conn); this.close();
    }, () => {});
    server.start();
    for (;;) { try { spare.push(native.dup(fd)); } catch { break; } }
    console.log(JSON.stringify({ port }));
    process.stdin.once('data', () => {
      const cpu = process.cpuUsage();
      setTimeout(() => {
        const used = process.cpuUsage(cpu);
        for (const s of spare) native.close(s);
        const freedAt = Date.now();
        setTimeout(() => { console.log(JSON.stringify({ cpuMs: (used.user + used.system) / 1000, servedAfter: servedAt - freedAt })); process.exit(0); }, 400);
      }, 300);
    });`;
  const child = spawn('sh', ['-c', `ulimit -n 256 && exec "${process.execPath}" --input-type=module -e '${script.replace(/'/g, `'\\''`)}'`], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    lines.push(...parts);
  });
  const exited = new Promise((resolve) => child.on('close', resolve));
  await waitFor(() => lines.length >= 1, 'the child to fill its fd table');
  const { port } = JSON.parse(lines[0]!) as { port: number };
  const client = net.connect(port, '127.0.0.1');
  const result = collect(client);
  await connected(client);
  client.write('x');
  child.stdin.write('go\n');
  await exited;
  assert.is((await result).data.toString(), 'served');
  const { cpuMs, servedAfter } = JSON.parse(lines[1]!) as { cpuMs: number; servedAfter: number };
  assert.ok(cpuMs < 100, `${cpuMs} ms of CPU in 300 ms at EMFILE: no busy loop`);
  assert.ok(servedAfter >= 0 && servedAfter < 250, `served ${servedAfter} ms after fds were freed`);
});

test.run();
