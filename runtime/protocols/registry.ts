/**
 * Protocols register by name; a worker builds one server per configured socket from here (a
 * `--zmq PULL,PUB` pair is a socket too, one the worker connects out from). A protocol turns
 * accepted connections or received messages into `core.serve(env, writer, conn)` calls and owns
 * the connections it accepted, so graceful stop can close them at the right moment.
 */
import { tsgiError } from '../errors.js';
import type { Scheduler } from '../../green/scheduler.js';
import type { Core } from '../worker/core.js';
import type { Options } from '../options.js';
import { PROTOCOL_MODULES, PROTOCOLS, ZMQ_MODULE } from './names.js';

export interface ProtocolContext {
  scheduler: Scheduler<Core>;
  options: Options;
  /** A request or connection had to wait because every core is busy. */
  onFull: () => void;
  /**
   * Passes Mongrel2 disconnect notices (`sender SP connId` keys, one a line) to the sibling
   * workers, through the master; null in a single process, which has no siblings.
   */
  relayDisconnects: ((keys: string) => void) | null;
}

/** Accepting on one listening fd (or receiving on a connected socket); stops while every core is busy. */
export interface Listener {
  pause(): void;
  resume(): void;
  /** Stops accepting for good (graceful stop); an inherited fd stays open for the master. */
  close(): void;
}

export interface ListenHooks {
  /** Whether a core is free for one more connection. */
  canAccept(): boolean;
  /** A connection had to wait because every core is busy. */
  onFull(): void;
}

export interface ProtocolServer {
  /** Serves a freshly accepted connection (a non-blocking fd), accepted by the worker's Acceptor. */
  serve?(fd: number): void;
  /** Or: accepts on the listening fd itself (the uwsgi protocol does, in C). */
  listen?(fd: number, label: string, hooks: ListenHooks): Listener;
  /** Or: connects out to its peer as `spec` says (zmq: Mongrel2's `PULL,PUB` addresses). */
  connect?(spec: string): Promise<Listener>;
  /** Graceful stop (called repeatedly while stopping): close idle connections, busy ones after their response. */
  drain(): void;
  /** Connections still open. */
  readonly connections: number;
  /** Breaks every connection (the reload mercy ran out). */
  destroyAll(): void;
  /** Starts a request that waited for a core, if any; true if it took one. */
  serveQueued?(): boolean;
  /** Disconnect notices a sibling worker received (see {@link ProtocolContext.relayDisconnects}). */
  relayedDisconnects?(keys: string): void;
  /** Graceful stop, last step (every request is done): lets go of what it holds, output flushed. */
  close?(): Promise<void>;
}

export type ProtocolFactory = (context: ProtocolContext) => ProtocolServer;

const protocols = new Map<string, ProtocolFactory>();

/** Each protocol's module, imported when a socket speaks it: a worker carries only what it serves. */
const MODULES: Readonly<Record<string, string>> = { ...PROTOCOL_MODULES, ...ZMQ_MODULE };

export function registerProtocol(name: string, factory: ProtocolFactory): void {
  protocols.set(name, factory);
}

export async function createProtocolServer(name: string, context: ProtocolContext): Promise<ProtocolServer> {
  if (!protocols.has(name) && MODULES[name] !== undefined) await import(MODULES[name]);
  const factory = protocols.get(name);
  if (!factory) throw tsgiError('TSGI_ERR_INTERNAL', `no protocol named ${name} (known: ${PROTOCOLS.join(', ')})`);
  return factory(context);
}
