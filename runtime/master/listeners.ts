/**
 * Binds every configured socket once, in the master. Workers inherit the listening fds and
 * accept on them themselves (pre-fork); the master never watches them, so it never accepts.
 */
import { lookup } from 'node:dns/promises';
import { lstatSync, readFileSync, unlinkSync } from 'node:fs';
import { isIP } from 'node:net';
import { abstractPath, localAddressMatching, parseAddress, unixPath, type SocketAddress } from '../address.js';
import { tsgiError } from '../errors.js';
import { log } from '../logger.js';
import { native } from '../native.js';
import { claimActivatedSocket, unclaimedActivatedSockets } from '../systemd/activation.js';
import type { Options } from '../options.js';
import { routerWorkerSockets } from '../routers/http/options.js';

export interface BoundSocket {
  address: SocketAddress;
  protocol: string;
  fd: number;
  /** What logs call it: the address as bound (with the real port of a `:0` bind). */
  name: string;
  /** Handed over by systemd (LISTEN_FDS): never bound nor removed by tsgi. */
  inherited?: boolean;
}

/** The sockets to bind, in option order: `--socket` (speaking --protocol), `--http-socket`, `--fastcgi-socket`. */
function configuredSockets(options: Options): Array<{ text: string; protocol: string }> {
  return [
    ...options.socket.map((text) => ({ text, protocol: options.protocol })),
    ...options['http-socket'].map((text) => ({ text, protocol: 'http' })),
    ...options['fastcgi-socket'].map((text) => ({ text, protocol: 'fastcgi' })),
    ...routerWorkerSockets(options),
  ];
}

export function somaxconn(): number {
  try {
    return Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim()) || 4096;
  } catch {
    return 4096;
  }
}

async function numericHost(host: string): Promise<string> {
  if (host === '' || isIP(host) !== 0) return host;
  if (host.includes('*')) return localAddressMatching(host);
  return (await lookup(host, { family: 4 })).address;
}

/** A unix socket file left by a dead instance is replaced; one a live server answers on is not. */
function removeStaleSocket(path: string): void {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new Error(`${path} exists and is not a socket`);
  try {
    native.close(native.connectUnix(unixPath(path)));
  } catch {
    unlinkSync(path);
    return;
  }
  throw Object.assign(new Error(`${path} is in use by a running server`), { code: 'EADDRINUSE' });
}

/** uWSGI defers accept for as long as --socket-timeout, then accepts a silent connection anyway. */
function deferAcceptSeconds(options: Options): number {
  return options['no-defer-accept'] ? 0 : Math.ceil(options['socket-timeout']);
}

export async function bindOne(address: SocketAddress, backlog: number, deferSeconds: number): Promise<{ fd: number; name: string }> {
  switch (address.kind) {
    case 'tcp': {
      const host = await numericHost(address.host);
      const fd = native.listenTcp(host, address.port, backlog, deferSeconds);
      const local = native.localAddress(fd);
      const port = 'port' in local ? local.port : address.port;
      return { fd, name: address.port === 0 || address.host.includes('*') ? `${host || '0.0.0.0'}:${port}` : address.text };
    }
    case 'unix':
      removeStaleSocket(address.path);
      return { fd: native.listenUnix(unixPath(address.path), backlog), name: address.path };
    case 'abstract':
      return { fd: native.listenUnix(abstractPath(address.name), backlog), name: address.text };
  }
}

/** Binds all sockets; on any failure closes what was bound and throws TSGI_ERR_SOCKET_BIND. */
export async function bindSockets(options: Options): Promise<BoundSocket[]> {
  const max = somaxconn();
  const backlog = Math.min(options.listen, max);
  if (options.listen > max) log(`--listen ${options.listen} exceeds net.core.somaxconn ${max}: the kernel caps the queue at ${max}`);
  const deferSeconds = deferAcceptSeconds(options);
  const bound: BoundSocket[] = [];
  for (const { text, protocol } of configuredSockets(options)) {
    const address = parseAddress(text);
    try {
      const activated = await claimActivatedSocket(address);
      const { fd, name } = activated ?? await bindOne(address, backlog, deferSeconds);
      bound.push({ address, protocol, fd, name, inherited: activated !== undefined });
      log(`${protocol} socket ${bound.length - 1} ${activated ? 'handed over by systemd' : 'bound'} to ${name} (fd ${fd})`);
    } catch (error) {
      closeSockets(bound);
      const option = protocol === 'http' && options['http-socket'].includes(text) ? 'http-socket'
        : protocol === 'fastcgi' && options['fastcgi-socket'].includes(text) ? 'fastcgi-socket' : 'socket';
      throw tsgiError('TSGI_ERR_SOCKET_BIND', `cannot bind --${option} ${text}: ${(error as Error).message}`, { cause: error });
    }
  }
  for (const { address, fd, name } of unclaimedActivatedSockets()) {
    bound.push({ address, protocol: options.protocol, fd, name, inherited: true });
    log(`${options.protocol} socket ${bound.length - 1} handed over by systemd on ${name} (fd ${fd}), serving as a --socket`);
  }
  return bound;
}

/** Closes the fds (at shutdown); --vacuum removes the unix socket files (runtime/jail/vacuum.ts). */
export function closeSockets(sockets: readonly BoundSocket[]): void {
  for (const socket of sockets) {
    try {
      native.close(socket.fd);
    } catch {
      // already closed
    }
  }
}
