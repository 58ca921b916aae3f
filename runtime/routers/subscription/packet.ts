/**
 * Subscription packets (modifier1 224), byte-compatible with uWSGI 2.0 (core/subscription.c):
 * one datagram `[224, dictlen u16 LE, cmd]` + a uwsgi dict. cmd 0 subscribes, anything else
 * unsubscribes (as uWSGI's server reads it); the header's modifier1 is not checked, as there.
 * Numbers in the dict are ASCII decimal.
 */

export const SUBSCRIPTION_MODIFIER1 = 224;
export const SUBSCRIBE = 0;
export const UNSUBSCRIBE = 1;
/** uWSGI's receive buffer: a longer datagram is cut there, so it is refused here. */
export const MAX_PACKET = 4096;

export interface Subscription {
  unsubscribe: boolean;
  key: string;
  address: string;
  modifier1: number;
  modifier2: number;
  cores: number;
  load: number;
  weight: number;
}

/** Why a packet was refused (logged by the server, which drops it). */
export class BadPacket extends Error {}

/** uWSGI reads numbers with atoi: leading digits, anything else is 0. */
function atoi(text: string | undefined): number {
  if (text === undefined) return 0;
  const match = /^\s*\d+/.exec(text);
  return match === null ? 0 : Number(match[0]);
}

function text(packet: Buffer, from: number, to: number): string {
  return packet.toString('latin1', from, to);
}

/** Parses a datagram; throws {@link BadPacket} for one that is not a valid subscription. */
export function parseSubscription(packet: Buffer): Subscription {
  if (packet.length < 4) throw new BadPacket(`${packet.length} bytes: shorter than a uwsgi header`);
  if (packet.length > MAX_PACKET) throw new BadPacket(`${packet.length} bytes: longer than ${MAX_PACKET}`);
  const size = packet.readUInt16LE(1);
  if (4 + size > packet.length) throw new BadPacket(`the header announces ${size} bytes of dict, the datagram has ${packet.length - 4}`);
  // One straight pass, each known key read into its own local: no object keyed by wire names.
  let key = '';
  let address = '';
  let modifier1: string | undefined;
  let modifier2: string | undefined;
  let cores: string | undefined;
  let load: string | undefined;
  let weight: string | undefined;
  for (let at = 4, end = 4 + size; at < end;) {
    if (at + 2 > end) throw new BadPacket('a key length runs past the dict');
    const keyLength = packet.readUInt16LE(at);
    if (keyLength === 0) throw new BadPacket('an empty key');
    const valueAt = at + 2 + keyLength;
    if (valueAt + 2 > end) throw new BadPacket('a key runs past the dict');
    const valueLength = packet.readUInt16LE(valueAt);
    const next = valueAt + 2 + valueLength;
    if (next > end) throw new BadPacket('a value runs past the dict');
    if (keyLength <= 9) {
      const from = valueAt + 2;
      switch (packet.toString('latin1', at + 2, valueAt)) {
        case 'key': key = text(packet, from, next); break;
        case 'address': address = text(packet, from, next); break;
        case 'modifier1': modifier1 = text(packet, from, next); break;
        case 'modifier2': modifier2 = text(packet, from, next); break;
        case 'cores': cores = text(packet, from, next); break;
        case 'load': load = text(packet, from, next); break;
        case 'weight': weight = text(packet, from, next); break;
      }
    }
    at = next;
  }
  if (!key) throw new BadPacket('no key');
  if (key.length > 255) throw new BadPacket('a key longer than 255 bytes');
  if (!address) throw new BadPacket(`key ${key}: no address`);
  if (address.length > 255) throw new BadPacket(`key ${key}: an address longer than 255 bytes`);
  return {
    unsubscribe: packet[3] !== SUBSCRIBE,
    key,
    address,
    modifier1: atoi(modifier1) & 0xff,
    modifier2: atoi(modifier2) & 0xff,
    cores: atoi(cores),
    load: atoi(load),
    weight: atoi(weight) || 1,
  };
}

/** Values are sent as the UTF-8 bytes of the option text, as uWSGI sends its argv bytes. */
function pair(name: string, value: string): Buffer {
  const bytes = Buffer.from(value);
  const entry = Buffer.allocUnsafe(4 + name.length + bytes.length);
  entry.writeUInt16LE(name.length, 0);
  entry.write(name, 2, 'latin1');
  entry.writeUInt16LE(bytes.length, 2 + name.length);
  bytes.copy(entry, 4 + name.length);
  return entry;
}

/** The datagram uWSGI 2.0 sends, keys in its order: key, address, modifier1, modifier2, cores, load, weight. */
export function encodeSubscription(s: Omit<Subscription, 'unsubscribe'>, unsubscribe: boolean): Buffer {
  const dict = Buffer.concat([
    pair('key', s.key), pair('address', s.address),
    pair('modifier1', String(s.modifier1)), pair('modifier2', String(s.modifier2)),
    pair('cores', String(s.cores)), pair('load', String(s.load)), pair('weight', String(s.weight)),
  ]);
  const header = Buffer.from([SUBSCRIPTION_MODIFIER1, dict.length & 0xff, dict.length >> 8, unsubscribe ? UNSUBSCRIBE : SUBSCRIBE]);
  return Buffer.concat([header, dict]);
}
