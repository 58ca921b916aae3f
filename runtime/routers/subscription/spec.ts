/**
 * What a subscription is, as `--subscribe-to` and `--subscribe2` write it (uWSGI 2.0 syntax):
 *
 *   --subscribe-to [ADDR=]SERVER:KEY[,MODIFIER1]      SERVER is `ip:port` (UDP)
 *   --subscribe2 server=…,key=…,addr=…,socket=N,weight=…,modifier1=…,modifier2=…,check=FILE
 *
 * KEY is everything after the colon that ends SERVER, so it may hold colons itself
 * (`example.com:8080`). A KEY starting with `@` names a file of keys, one a line.
 */
import { readFileSync } from 'node:fs';
import { parseAddress } from '../../address.js';

export interface SubscriptionSpec {
  /** host:port of the subscription server (UDP). */
  server: string;
  key: string;
  /** The announced address; undefined: the instance's socket number `socket` (0: the first). */
  address?: string;
  socket: number;
  modifier1: number;
  modifier2: number;
  /** Undefined: --weight (or --auto-weight). */
  weight?: number;
  /** Skipped while this file exists (uWSGI 2.0.30's code; its docs say the opposite). */
  check?: string;
}

/** A subscription server's address: `ip:port`. Unix datagram servers are not supported (yet). */
export function checkServerAddress(text: string): void {
  const address = parseAddress(text);
  if (address.kind !== 'tcp') throw new Error(`a subscription server is a UDP ip:port, not ${JSON.stringify(text)} (unix datagram servers are not supported)`);
  if (address.port === 0) throw new Error('a subscription server needs a port');
}

function decimal(text: string, what: string, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) > max) throw new Error(`${what} must be a whole number 0-${max}, not ${JSON.stringify(text)}`);
  return Number(text);
}

/** Splits `ip:port:key` where the key may itself contain colons. */
function splitServer(text: string): [server: string, rest: string] {
  if (text.startsWith('/')) throw new Error(`a subscription server is a UDP ip:port (unix datagram servers are not supported), got ${JSON.stringify(text)}`);
  const first = text.startsWith('[') ? text.indexOf(']:') + 1 : text.indexOf(':');
  const second = first > 0 ? text.indexOf(':', first + 1) : -1;
  if (first <= 0 || second < 0) throw new Error(`expected SERVER:KEY with SERVER an ip:port, got ${JSON.stringify(text)}`);
  return [text.slice(0, second), text.slice(second + 1)];
}

/** Parses one --subscribe-to value; throws an Error saying what is wrong with it. */
export function parseSubscribeTo(value: string): SubscriptionSpec {
  const equal = value.indexOf('=');
  const address = equal > 0 ? value.slice(0, equal) : undefined;
  if (address !== undefined) parseAddress(address);
  const [server, rest] = splitServer(equal > 0 ? value.slice(equal + 1) : value);
  checkServerAddress(server);
  const [key = '', modifier1 = '0'] = rest.split(',');
  if (key === '') throw new Error('the subscription key is empty');
  if (Buffer.byteLength(key) > 255) throw new Error('the subscription key is longer than 255 bytes');
  return { server, key, address, socket: 0, modifier1: decimal(modifier1, 'MODIFIER1', 255), modifier2: 0 };
}

const SUBSCRIBE2_KEYS = new Set(['server', 'key', 'addr', 'address', 'socket', 'weight', 'modifier1', 'modifier2', 'check', 'sni_key', 'sni_crt', 'sni_ca', 'sign']);

/** Parses one --subscribe2 value (`k=v,k=v`); throws an Error saying what is wrong with it. */
export function parseSubscribe2(value: string): SubscriptionSpec {
  const fields = new Map<string, string>();
  for (const pair of value.split(',')) {
    const equal = pair.indexOf('=');
    const name = equal < 0 ? pair : pair.slice(0, equal);
    if (!SUBSCRIBE2_KEYS.has(name)) throw new Error(`unknown key ${JSON.stringify(name)} (known: server, key, addr, socket, weight, modifier1, modifier2, check)`);
    if (name.startsWith('sni_') || name === 'sign') throw new Error(`${name} is not supported by tsgi (no SSL routers, no signed subscriptions)`);
    fields.set(name, equal < 0 ? '' : pair.slice(equal + 1));
  }
  const server = fields.get('server');
  const key = fields.get('key');
  if (!server || !key) throw new Error('needs at least server=… and key=…');
  checkServerAddress(server);
  if (Buffer.byteLength(key) > 255) throw new Error('the subscription key is longer than 255 bytes');
  const address = fields.get('addr') ?? fields.get('address');
  if (address) parseAddress(address);
  const weight = fields.get('weight');
  return {
    server,
    key,
    address: address || undefined,
    socket: fields.has('socket') ? decimal(fields.get('socket')!, 'socket', 1023) : 0,
    modifier1: decimal(fields.get('modifier1') ?? '0', 'modifier1', 255),
    modifier2: decimal(fields.get('modifier2') ?? '0', 'modifier2', 255),
    weight: weight === undefined ? undefined : decimal(weight, 'weight', 1_000_000),
    check: fields.get('check') || undefined,
  };
}

/** A KEY of `@file` stands for the keys in that file (one a line, `#` comments, optional `,modifier1`). */
export function expandKeyFiles(spec: SubscriptionSpec): SubscriptionSpec[] {
  if (!spec.key.startsWith('@')) return [spec];
  const lines = readFileSync(spec.key.slice(1), 'utf8').split('\n').map((line) => line.trim());
  return lines.filter((line) => line !== '' && !line.startsWith('#')).map((line) => {
    const [key = '', modifier1] = line.split(',');
    return { ...spec, key, modifier1: modifier1 === undefined ? spec.modifier1 : decimal(modifier1.trim(), 'modifier1', 255) };
  });
}
