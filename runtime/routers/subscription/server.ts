/**
 * The receiving end of subscriptions: datagrams on a router's subscription socket (inherited
 * from the master) feed its {@link NodeTable}. A bad packet is logged and dropped; each
 * change to the table (a new node, a node gone) is one log line, a refresh is silent.
 */
import { createSocket, type Socket } from 'node:dgram';
import { parseAddress } from '../../address.js';
import { log } from '../../logger.js';
import { native } from '../../native.js';
import type { NodeTable } from '../nodes.js';
import { BadPacket, parseSubscription } from './packet.js';

export interface SubscriptionServerCounters {
  packets: number;
  refused: number;
}

/** Applies one datagram to `table`; returns false for a refused one (logged). */
export function applySubscription(table: NodeTable, packet: Buffer, now: number, counters: SubscriptionServerCounters): boolean {
  counters.packets++;
  try {
    const s = parseSubscription(packet);
    if (s.unsubscribe) {
      if (table.unsubscribe(s)) log(`[subscription] ${s.key} => ${s.address} unsubscribed`);
    } else if (table.subscribe(s, now)) {
      log(`[subscription] ${s.key} => new node: ${s.address} (weight ${s.weight}, modifier1 ${s.modifier1})`);
    }
    return true;
  } catch (error) {
    if (!(error instanceof BadPacket)) throw error;
    counters.refused++;
    log(`[subscription] refused a packet: ${error.message}`);
    return false;
  }
}

/** Receives on the inherited UDP fd; `relay` hears every accepted packet (to pass on to sibling processes). */
export function serveSubscriptions(fd: number, family: 'udp4' | 'udp6', table: NodeTable, counters: SubscriptionServerCounters, relay?: (packet: Buffer) => void): Socket {
  const socket = createSocket(family);
  socket.on('message', (packet) => {
    if (applySubscription(table, packet, Date.now(), counters)) relay?.(packet);
  });
  socket.on('error', (error) => log(`[subscription] socket error: ${error.message}`));
  socket.bind({ fd });
  return socket;
}

/** A subscription server's UDP socket, bound by the master for the router processes to inherit. */
export interface SubscriptionSocket {
  fd: number;
  family: 'udp4' | 'udp6';
  name: string;
}

/** Binds `text` (ip:port) for a router's subscription server; throws an Error saying why not. */
export function bindSubscriptionSocket(text: string): SubscriptionSocket {
  const address = parseAddress(text);
  if (address.kind !== 'tcp') throw new Error('not a UDP ip:port');
  const fd = native.bindUdp(address.host || '0.0.0.0', address.port);
  const local = native.localAddress(fd);
  const name = `${address.host || '0.0.0.0'}:${'port' in local ? local.port : address.port}`;
  return { fd, family: address.host.includes(':') ? 'udp6' : 'udp4', name };
}
