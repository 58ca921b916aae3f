/**
 * native.ConnServer with a few connections at a time against the real kernel: real TCP and unix
 * sockets, reads, writes, backpressure, pause/close/destroy, errors. Load and lifetime tests are
 * in conn-server-load.test.ts and conn-server-lifetime.test.ts. No mocks.
 */
import { rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConnServer, native } from '../../runtime/native.js';

import { collect, connected, listenTcp, Recorder, sleep, throwsCode, waitFor } from '../helpers/conn-server.js';

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

test.run();
