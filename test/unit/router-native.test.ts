/**
 * The addon pieces the routers add: bindUdp (a subscription socket a child can inherit),
 * connectTcpNonBlocking + socketError (a non-blocking connect to a node) and ConnServer.adopt (a node
 * connection read and written like an accepted one).
 */
import { createSocket } from 'node:dgram';
import { createServer, type Socket } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConnServer, native, Poll, POLL_WRITABLE } from '../../runtime/native.js';
import { pickPort } from '../helpers/ports.js';

const writable = (fd: number) => new Promise<void>((resolve) => {
  const poll = new Poll(fd, () => {
    poll.close();
    resolve();
  }, true);
  poll.start(POLL_WRITABLE);
});

test('bindUdp: a bound datagram socket that receives nothing until someone reads it', async () => {
  const fd = native.bindUdp('127.0.0.1', 0);
  const local = native.localAddress(fd);
  assert.ok('port' in local && local.port > 0);
  const sender = createSocket('udp4');
  await new Promise<void>((resolve, reject) => sender.send('x', 'port' in local ? local.port : 0, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
  sender.close();
  native.close(fd);
  assert.throws(() => native.bindUdp('127.0.0.1', 70000), /port/);
});

test('connectTcpNonBlocking: socketError is 0 once connected, -ECONNREFUSED (or a throw) for a closed port', async () => {
  const port = await pickPort();
  const accepted: Socket[] = [];
  const server = createServer((socket) => accepted.push(socket)).listen(port, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const fd = native.connectTcpNonBlocking('127.0.0.1', port);
  await writable(fd);
  assert.is(native.socketError(fd), 0);
  native.close(fd);
  server.close();
  for (const socket of accepted) socket.destroy();
  const closed = await pickPort();
  let refused: number;
  try {
    const failing = native.connectTcpNonBlocking('127.0.0.1', closed);
    await writable(failing);
    refused = native.socketError(failing);
    native.close(failing);
  } catch (error) {
    refused = (error as { errno: number }).errno;
  }
  assert.is(refused, -111);
});

test('ConnServer.adopt: a connected fd is read and written like an accepted connection', async () => {
  const port = await pickPort();
  const peer = createServer((socket) => socket.on('data', (chunk) => socket.end(`echo:${chunk}`))).listen(port, '127.0.0.1');
  await new Promise((resolve) => peer.once('listening', resolve));
  const listenFd = native.listenTcp('127.0.0.1', 0, 16);
  const chunks: string[] = [];
  const done = new Promise<void>((resolve) => {
    const server = new ConnServer(listenFd, (_fd, chunk) => {
      if (chunk === null) {
        server.close();
        return resolve();
      }
      chunks.push(chunk.toString());
    }, () => {});
    const fd = native.connectTcpNonBlocking('127.0.0.1', port);
    void writable(fd).then(() => {
      server.adopt(fd);
      assert.throws(() => server.adopt(fd), /already a connection/);
      server.write(fd, Buffer.from('hi'));
    });
  });
  await done;
  assert.is(chunks.join(''), 'echo:hi');
  peer.close();
  native.close(listenFd);
});

test.run();
