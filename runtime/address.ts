/**
 * Socket addresses as uWSGI writes them: `host:port`, `:port` (every interface), `[v6]:port`,
 * a unix socket path, or `@name` for a Linux abstract socket.
 */
import { networkInterfaces } from 'node:os';

export type SocketAddress =
  | { kind: 'tcp'; host: string; port: number; text: string }
  | { kind: 'unix'; path: string; text: string }
  | { kind: 'abstract'; name: string; text: string };

/** Parses `text`; throws an Error whose message explains what is wrong with it. */
export function parseAddress(text: string): SocketAddress {
  if (text === '') throw new Error('empty address');
  if (text.startsWith('@')) {
    const name = text.slice(1);
    if (name === '') throw new Error('abstract socket "@" needs a name');
    // sun_path is 108 bytes: one leading NUL, the name and uWSGI's trailing NUL.
    if (Buffer.byteLength(name) > 106) throw new Error('abstract socket name longer than 106 bytes');
    return { kind: 'abstract', name, text };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0 || text.includes('/')) {
    if (Buffer.byteLength(text) > 107) throw new Error('unix socket path longer than 107 bytes');
    return { kind: 'unix', path: text, text };
  }
  let host = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText)) throw new Error(`port "${portText}" is not a number`);
  const port = Number(portText);
  if (port > 65535) throw new Error(`port ${port} is out of range 0-65535`);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  else if (host.includes(':')) throw new Error('write IPv6 addresses in brackets, as [::1]:8080');
  if (host === '*') host = '';
  return { kind: 'tcp', host, port, text };
}

/**
 * The exact sun_path bytes uWSGI uses for `@name`: NUL, the name, and one trailing NUL (its
 * address length counts the C string terminator). Clients must use the same bytes to connect.
 */
export function abstractPath(name: string): Buffer {
  return Buffer.concat([Buffer.from([0]), Buffer.from(name), Buffer.from([0])]);
}

/** sun_path bytes of a filesystem socket: the path and a terminating NUL, as bind(2) expects. */
export function unixPath(path: string): Buffer {
  return Buffer.concat([Buffer.from(path), Buffer.from([0])]);
}

/**
 * The first IPv4 address of this machine's interfaces that `pattern` matches, `*` standing for
 * any run of characters: `--socket 192.168.173.*:3031` binds whichever address the node has on
 * that network, so every member of a cluster can share one config (uWSGI 0.9.8).
 */
export function localAddressMatching(pattern: string): string {
  const matcher = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  for (const addresses of Object.values(networkInterfaces())) {
    for (const { family, address } of addresses ?? []) if (family === 'IPv4' && matcher.test(address)) return address;
  }
  throw new Error(`no local IPv4 address matches ${pattern}`);
}
