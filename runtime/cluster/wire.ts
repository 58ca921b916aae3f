/**
 * The datagrams cluster members multicast to each other (uWSGI 0.9.8 – 1.4; spec wire.md §12):
 * a plain uwsgi header `[modifier1, u16le size, modifier2]` and the payload, one per datagram.
 * Dict payloads use the uwsgi vars encoding and may repeat a key (a repeatable option sent as
 * config appears once per value), so they are read as a list of pairs, not an object.
 */
import { encodeArray, packetHeader } from '../protocols/uwsgi/packet.js';

/** modifier1 of each cluster message. */
export const CLUSTER_MODIFIER = {
  /** A node joined: payload is its hostname. */
  join: 73,
  /** A member announces itself: dict hostname, address, workers, requests. */
  announce: 95,
  /** A line for every member's log. */
  log: 96,
  /** Every member reloads gracefully. */
  reload: 98,
  /** modifier2 0: a booting node asks for a configuration; 1: a member's options answer it. */
  config: 99,
} as const;

export const CONFIG_REQUEST = 0;
export const CONFIG_REPLY = 1;

export type Pairs = Array<[string, string]>;

export interface ClusterMessage {
  modifier1: number;
  modifier2: number;
  payload: Buffer;
}

/** Why a datagram was refused; the receiver logs it and drops only that datagram. */
export class MalformedDatagram extends Error {}

export function encodeMessage(modifier1: number, modifier2: number, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  if (body.length > 0xffff) throw new MalformedDatagram(`cluster payload of ${body.length} bytes does not fit the 16-bit size`);
  return Buffer.concat([packetHeader(modifier1, body.length, modifier2), body]);
}

export function decodeMessage(datagram: Buffer): ClusterMessage {
  if (datagram.length < 4) throw new MalformedDatagram(`${datagram.length}-byte datagram is shorter than the 4-byte header`);
  const size = datagram[1]! | (datagram[2]! << 8);
  if (datagram.length !== 4 + size) throw new MalformedDatagram(`header says ${size} payload bytes, datagram has ${datagram.length - 4}`);
  return { modifier1: datagram[0]!, modifier2: datagram[3]!, payload: datagram.subarray(4) };
}

export function encodePairs(pairs: Pairs): Buffer {
  return encodeArray(pairs.flat());
}

/** Reads a dict payload; empty values are kept (a flag's value is "1", but a string may be ""). */
export function decodePairs(payload: Buffer): Pairs {
  const pairs: Pairs = [];
  let pos = 0;
  const item = (): string => {
    if (pos + 2 > payload.length) throw new MalformedDatagram('dict ends inside a length field');
    const length = payload[pos]! | (payload[pos + 1]! << 8);
    const start = pos + 2;
    pos = start + length;
    if (pos > payload.length) throw new MalformedDatagram(`dict item of ${length} bytes runs past the payload`);
    return payload.toString('utf8', start, pos);
  };
  while (pos < payload.length) {
    const key = item();
    if (key === '') throw new MalformedDatagram('dict has an empty key');
    pairs.push([key, item()]);
  }
  return pairs;
}

/** What a member announces of itself (m1 95). */
export interface NodeAnnouncement {
  hostname: string;
  address: string;
  workers: number;
  requests: number;
}

export function encodeAnnouncement(node: NodeAnnouncement): Buffer {
  return encodeMessage(CLUSTER_MODIFIER.announce, 0, encodePairs([
    ['hostname', node.hostname], ['address', node.address], ['workers', String(node.workers)], ['requests', String(node.requests)],
  ]));
}

export function decodeAnnouncement(payload: Buffer): NodeAnnouncement {
  const fields = new Map(decodePairs(payload));
  const hostname = fields.get('hostname');
  const address = fields.get('address');
  if (!hostname || !address) throw new MalformedDatagram('announcement without hostname or address');
  return { hostname, address, workers: Number(fields.get('workers') ?? 0) || 0, requests: Number(fields.get('requests') ?? 0) || 0 };
}
