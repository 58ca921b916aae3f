/**
 * Connections from a router to its nodes: `host:port`, a unix socket path, or uWSGI's
 * `@abstract` name (exact-length address, through the addon: Node pads abstract names, so it
 * cannot reach the ones uWSGI binds). Addresses are parsed once and remembered, as a router
 * sees the same few nodes over and over.
 */
import { connect, Socket } from 'node:net';
import { abstractPath, parseAddress, type SocketAddress } from '../../address.js';
import { native } from '../../native.js';

const parsed = new Map<string, SocketAddress>();
const MAX_REMEMBERED = 10_000;

function addressOf(text: string): SocketAddress {
  let address = parsed.get(text);
  if (address === undefined) {
    address = parseAddress(text); // throws for a mapped value that is no address
    if (parsed.size >= MAX_REMEMBERED) parsed.clear();
    parsed.set(text, address);
  }
  return address;
}

/**
 * A socket connecting to `text` (it emits 'connect' or 'error'). An abstract socket connects
 * at once or throws, so its 'connect' is emitted on the next tick.
 */
export function connectNode(text: string): Socket {
  const address = addressOf(text);
  switch (address.kind) {
    case 'tcp': {
      const socket = connect({ host: address.host || '127.0.0.1', port: address.port, allowHalfOpen: true });
      socket.setNoDelay(true);
      return socket;
    }
    case 'unix':
      return connect({ path: address.path, allowHalfOpen: true });
    case 'abstract': {
      const socket = new Socket({ fd: native.connectUnix(abstractPath(address.name)), readable: true, writable: true, allowHalfOpen: true });
      process.nextTick(() => socket.emit('connect'));
      return socket;
    }
  }
}
