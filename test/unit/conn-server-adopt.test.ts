/**
 * ConnServer.adopt with the non-blocking connects (the HTTP router's node connections), against
 * real sockets: a unix and a TCP node answer through the C path; a refused TCP connect ends in
 * null with nothing read; a node that answers and closes without reading what it was sent still
 * has its answer delivered (the failed send is dropped, reading goes on).
 */
import { rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { unixPath } from '../../runtime/address.js';
import { ConnServer, native } from '../../runtime/native.js';
import { listenTcp, Recorder, throwsCode, waitFor } from '../helpers/conn-server.js';
import { pickPort } from '../helpers/ports.js';

function nodeServer(onConnection: (socket: net.Socket) => void): net.Server {
  return net.createServer(onConnection);
}

test('unix: adopt → write reaches the node, its answer comes as onData, then null at its close', async () => {
  const file = path.join(os.tmpdir(), `tsgi-adopt-${process.pid}.sock`);
  rmSync(file, { force: true });
  const node = nodeServer((socket) => socket.once('data', (data) => socket.end(`got ${data}`)));
  await new Promise<void>((resolve) => node.listen(file, resolve));
  const { listenFd } = listenTcp();
  const rec = new Recorder();
  const server = new ConnServer(listenFd, rec.onData, rec.onDrain);
  try {
    const fd = native.connectUnixNonBlocking(unixPath(file));
    server.adopt(fd);
    assert.is(rec.calls.length, 0, 'no callback inside adopt()');
    assert.is(server.write(fd, Buffer.from('packet')), true);
    await waitFor(() => rec.data().some((call) => call.chunk === null), 'null');
    assert.equal(rec.data().map((call) => call.chunk?.toString() ?? null), ['got packet', null]);
  } finally {
    server.close();
    native.close(listenFd);
    node.close();
  }
});

test('TCP: a connect in progress queues the write; a refused connect is null with nothing read; a missing unix path throws', async () => {
  const port = await pickPort();
  const node = nodeServer((socket) => socket.once('data', (data) => socket.end(`tcp ${data}`)));
  await new Promise<void>((resolve) => node.listen(port, '127.0.0.1', resolve));
  const { listenFd } = listenTcp();
  const rec = new Recorder();
  const server = new ConnServer(listenFd, rec.onData, rec.onDrain);
  try {
    const fd = native.connectTcpNonBlocking('127.0.0.1', port);
    server.adopt(fd);
    server.write(fd, Buffer.from('hi'));
    await waitFor(() => rec.data().some((call) => call.fd === fd && call.chunk === null), 'null');
    assert.equal(rec.data().filter((call) => call.fd === fd).map((call) => call.chunk?.toString() ?? null), ['tcp hi', null]);
    node.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    let refused: number;
    try {
      refused = native.connectTcpNonBlocking('127.0.0.1', port);
    } catch (error) {
      assert.is((error as NodeJS.ErrnoException).code, 'ECONNREFUSED'); // known at once: fine too
      refused = -1;
    }
    if (refused >= 0) {
      server.adopt(refused);
      assert.is(server.write(refused, Buffer.from('lost')), false);
      await waitFor(() => rec.data().some((call) => call.fd === refused && call.chunk === null), 'null for the refused connect');
      assert.equal(rec.data().filter((call) => call.fd === refused && call.chunk !== null && call.chunk.length > 0), []);
    }
    throwsCode(() => native.connectUnixNonBlocking(unixPath('/nonexistent/tsgi.sock')), 'ENOENT');
  } finally {
    server.close();
    native.close(listenFd);
  }
});

test('a node that answers and closes without reading the rest: the answer still arrives, then null', async () => {
  const file = path.join(os.tmpdir(), `tsgi-adopt-early-${process.pid}.sock`);
  rmSync(file, { force: true });
  const node = nodeServer((socket) => socket.once('data', () => {
    socket.end('early answer');
    socket.destroy(); // unread bytes in its queue: our later sends fail with EPIPE/ECONNRESET
  }));
  await new Promise<void>((resolve) => node.listen(file, resolve));
  const { listenFd } = listenTcp();
  const rec = new Recorder();
  const server = new ConnServer(listenFd, rec.onData, rec.onDrain);
  try {
    const fd = native.connectUnixNonBlocking(unixPath(file));
    server.adopt(fd);
    // More than the socket buffers hold: the node answers after the first bytes, closes with
    // the rest unread, and the sends of what is still queued fail.
    server.write(fd, Buffer.from('head'));
    for (let i = 0; i < 20; i++) server.write(fd, Buffer.alloc(64 * 1024, 'b'));
    await waitFor(() => rec.data().some((call) => call.chunk === null), 'null');
    const text = rec.data().filter((call) => call.chunk !== null).map((call) => call.chunk!.toString()).join('');
    assert.is(text, 'early answer');
  } finally {
    server.close();
    native.close(listenFd);
    node.close();
  }
});

test.run();
