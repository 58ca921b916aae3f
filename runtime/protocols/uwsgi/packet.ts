/**
 * Building uwsgi packets (header + dict or array) and talking to a uwsgi node as a client:
 * what RPC and remote signals send, byte-compatible with uWSGI (uWSGI docs, `Protocol.rst`; `core/rpc.c`, `plugins/signal`).
 */
import { connect, Socket } from 'node:net';
import { abstractPath } from '../../address.js';
import { parseAddress } from '../../address.js';
import { native } from '../../native.js';

/**
 * modifier2 of a request packet that tsgi's HTTP router sends to its own instance's workers:
 * the connection is a link that carries the next request once the response, framed by its
 * Content-Length, is complete (uwsgi itself has one request per connection, and a node that is
 * not the instance's own never gets this value).
 */
export const LINK_MODIFIER2 = 0x4c;

/**
 * The first bytes a worker writes on a new link, before its first response: `L`, then u32 pid,
 * u16 thread id and u16 cores (little-endian), so the router knows whose link it is and how many
 * requests that worker serves at once.
 */
export const LINK_HELLO_SIZE = 9;

export function linkHello(pid: number, thread: number, cores: number): Buffer {
  const hello = Buffer.allocUnsafe(LINK_HELLO_SIZE);
  hello[0] = LINK_MODIFIER2;
  hello.writeUInt32LE(pid, 1);
  hello.writeUInt16LE(thread, 5);
  hello.writeUInt16LE(cores, 7);
  return hello;
}

export function packetHeader(modifier1: number, size: number, modifier2: number): Buffer {
  return Buffer.from([modifier1, size & 0xff, size >> 8, modifier2]);
}

/** The array encoding: u16le length + bytes per item. */
export function encodeArray(items: ReadonlyArray<string | Uint8Array>): Buffer {
  const parts: Buffer[] = [];
  for (const item of items) {
    const bytes = typeof item === 'string' ? Buffer.from(item) : Buffer.from(item);
    parts.push(Buffer.from([bytes.length & 0xff, bytes.length >> 8]), bytes);
  }
  return Buffer.concat(parts);
}

/** The dict encoding: u16le key length, key, u16le value length, value. */
export function encodeDict(pairs: Record<string, string>): Buffer {
  return encodeArray(Object.entries(pairs).flat());
}

/** Connects to a uwsgi node: `host:port`, a unix path or `@abstract` (uWSGI's exact name). */
export function connectNode(node: string): Socket {
  const address = parseAddress(node);
  if (address.kind === 'tcp') return connect(address.port, address.host || '127.0.0.1');
  if (address.kind === 'unix') return connect(address.path);
  return new Socket({ fd: native.connectUnix(abstractPath(address.name)), readable: true, writable: true });
}

/**
 * Sends `packet` to `node` and resolves with every byte it answered before closing (empty when
 * it closed without a reply, as uWSGI does on failure). Rejects on connection errors/timeout.
 */
export function exchange(node: string, packet: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let socket: Socket;
    try {
      socket = connectNode(node);
    } catch (error) {
      return reject(error);
    }
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(Object.assign(new Error(`no answer from ${node} within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.write(packet); // no half-close: a FIN means "gone" to uwsgi servers
  });
}
