/**
 * uwsgi packets that are not requests (uWSGI docs, `Protocol.rst`, the modifier1 table): ping (100), remote signals (110),
 * RPC (173). Each modifier1 registers a service; a service answers with raw bytes or closes
 * the connection without a reply, as uWSGI does on failure.
 */
import { packetHeader } from '../protocols/uwsgi/packet.js';

export interface ServicePacket {
  modifier1: number;
  modifier2: number;
  /** The raw block (for modifiers that carry no dict), else null. */
  payload: Buffer | null;
  /** The dict, for modifiers that carry one. */
  vars: Record<string, unknown>;
  /** Reads the `length` bytes that follow the block (a cache value after its magic dict). */
  readBody(length: number): Promise<Buffer>;
}

export interface ServiceReply {
  /** Sends `bytes` and closes the connection. */
  send(bytes: Buffer): void;
  /** Closes the connection without a reply (uWSGI's answer to a failed call). */
  drop(): void;
}

export type Service = (packet: ServicePacket, reply: ServiceReply) => void;

const services = new Map<number, Service>();

export function registerService(modifier1: number, service: Service): void {
  services.set(modifier1, service);
}

export function findService(modifier1: number): Service | undefined {
  return services.get(modifier1);
}

// Ping: pong with an empty warning message.
registerService(100, (_packet, reply) => reply.send(packetHeader(100, 0, 1)));
