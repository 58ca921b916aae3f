/**
 * systemd socket activation (sd_listen_fds(3)): when LISTEN_PID is this process, fds 3 …
 * 3 + LISTEN_FDS − 1 are listening sockets systemd bound for us. As uWSGI does, each one is
 * matched by its address to a configured socket (`--http-socket 127.0.0.1:8080` takes the fd
 * systemd bound to 127.0.0.1:8080 instead of binding it); those that match none are served as
 * `--socket`s speaking --protocol. The variables are then removed, so no child takes them for
 * its own.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { SocketAddress } from '../address.js';
import { tsgiError } from '../errors.js';
import { native, type LocalAddress } from '../native.js';

const FIRST_FD = 3; // SD_LISTEN_FDS_START

export interface ActivatedSocket {
  address: SocketAddress;
  fd: number;
  /** The address as logs show it, with the FileDescriptorName= if the unit gave one. */
  name: string;
  local: LocalAddress;
}

let unclaimed: ActivatedSocket[] | undefined;
let activatedCount = 0;

function describe(local: LocalAddress): SocketAddress {
  if (local.family === 'unix') {
    const bytes = local.path;
    if (bytes[0] === 0) {
      const name = bytes.subarray(1).toString().replace(/\0$/, '');
      return { kind: 'abstract', name, text: `@${name}` };
    }
    const path = bytes.toString().replace(/\0.*$/s, '');
    return { kind: 'unix', path, text: path };
  }
  const host = local.family === 'IPv6' ? `[${local.address}]` : local.address;
  return { kind: 'tcp', host: local.address, port: local.port, text: `${host}:${local.port}` };
}

/** Takes the fds once: each becomes close-on-exec (a daemon's shell must not inherit it) and non-blocking (workers accept without waiting). */
function takeListenFds(): ActivatedSocket[] {
  const { LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES } = process.env;
  delete process.env.LISTEN_PID;
  delete process.env.LISTEN_FDS;
  delete process.env.LISTEN_FDNAMES;
  const count = Number(LISTEN_FDS);
  if (Number(LISTEN_PID) !== process.pid || !Number.isSafeInteger(count) || count <= 0) return [];
  const names = LISTEN_FDNAMES?.split(':') ?? [];
  const sockets: ActivatedSocket[] = [];
  for (let i = 0; i < count; i++) {
    const passed = FIRST_FD + i;
    let local: LocalAddress;
    try {
      local = native.localAddress(passed);
    } catch (error) {
      throw tsgiError('TSGI_ERR_SYSTEMD_LISTEN_FDS', `LISTEN_FDS: fd ${passed} is not a socket: ${(error as Error).message}`, { cause: error });
    }
    const fd = native.dup(passed);
    native.close(passed);
    native.setNonBlocking(fd, true);
    const address = describe(local);
    const label = names[i] && names[i] !== 'unknown' ? ` (${names[i]})` : '';
    sockets.push({ address, fd, local, name: `${address.text}${label}` });
  }
  activatedCount = sockets.length;
  return sockets;
}

/** Whether systemd handed sockets over (then no --socket is needed): also true after they were taken. */
export function socketsActivated(): boolean {
  return activatedCount > 0 || (Number(process.env.LISTEN_PID) === process.pid && Number(process.env.LISTEN_FDS) > 0);
}

async function numericHost(host: string): Promise<string> {
  if (host === '' || isIP(host) !== 0) return host;
  return (await lookup(host, { family: 4 })).address;
}

async function matches(wanted: SocketAddress, passed: ActivatedSocket): Promise<boolean> {
  const local = passed.local;
  switch (wanted.kind) {
    case 'unix':
      return passed.address.kind === 'unix' && passed.address.path === wanted.path;
    case 'abstract':
      return passed.address.kind === 'abstract' && passed.address.name === wanted.name;
    case 'tcp': {
      if (local.family === 'unix' || local.port !== wanted.port) return false;
      const host = await numericHost(wanted.host);
      const any = host === '' || host === '0.0.0.0' || host === '::';
      return any ? local.address === '0.0.0.0' || local.address === '::' : local.address === host;
    }
  }
}

/** The fd systemd bound to `address`, if it passed one (each fd is claimed once). */
export async function claimActivatedSocket(address: SocketAddress): Promise<{ fd: number; name: string } | undefined> {
  unclaimed ??= takeListenFds();
  for (const [i, passed] of unclaimed.entries()) {
    if (!(await matches(address, passed))) continue;
    unclaimed.splice(i, 1);
    return passed;
  }
  return undefined;
}

/** The fds no configured socket claimed: they serve as `--socket`s. */
export function unclaimedActivatedSockets(): ActivatedSocket[] {
  const rest = unclaimed ?? takeListenFds();
  unclaimed = [];
  return rest;
}
