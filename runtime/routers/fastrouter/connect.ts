/**
 * Connections from a router to its nodes, as plain fds its ConnServer adopts (a net.Socket per
 * node connection costs more than the request it carries): `host:port` by a non-blocking
 * connect, a unix socket path or uWSGI's `@abstract` name (exact-length address: Node pads
 * abstract names, so it cannot reach the ones uWSGI binds) connected at once. Addresses are
 * parsed once and remembered, as a router sees the same few nodes over and over.
 */
import { isIP } from 'node:net';
import { constants } from 'node:os';
import { abstractPath, parseAddress, unixPath, type SocketAddress } from '../../address.js';
import { native } from '../../native.js';

const parsed = new Map<string, SocketAddress>();
const MAX_REMEMBERED = 10_000;

function addressOf(text: string): SocketAddress {
  let address = parsed.get(text);
  if (address === undefined) {
    address = parseAddress(text); // throws for a mapped value that is no address
    if (address.kind === 'tcp' && address.host !== '' && isIP(address.host) === 0) throw Object.assign(new Error(`${text}: nodes are numeric addresses`), { code: 'EINVAL' });
    if (parsed.size >= MAX_REMEMBERED) parsed.clear();
    parsed.set(text, address);
  }
  return address;
}

/** The fd of a connection to `text`; `pending`: a TCP connect still in progress (poll WRITABLE, then socketError). Throws when it fails at once. */
export function openNode(text: string): { fd: number; pending: boolean } {
  const address = addressOf(text);
  switch (address.kind) {
    case 'tcp':
      return { fd: native.connectTcpNonBlocking(address.host || '127.0.0.1', address.port), pending: true };
    case 'unix':
      return { fd: native.connectUnix(unixPath(address.path)), pending: false };
    case 'abstract':
      return { fd: native.connectUnix(abstractPath(address.name)), pending: false };
  }
}

const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, number]) => [number, name]));

/** `ECONNREFUSED` for -111. */
export function errnoName(negative: number): string {
  return ERRNO_NAMES.get(-negative) ?? `errno ${-negative}`;
}
