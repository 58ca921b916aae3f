/**
 * The messages between the master and a FastRouter process (the generic {@link Channel} of
 * runtime/ipc.ts with the router's own act set). A subscription datagram one router process
 * received is relayed by the master to its siblings, base64, so every process of the router
 * has the same node table (uWSGI forwards them between its gateway processes too).
 */
import type { Channel } from '../../ipc.js';
import type { Options } from '../../options.js';

/** Master → router process. */
export const ROUTER_MASTER_ACTS = {
  'stop': {},
  'subscription': { packet: 'string' },
  'reply': { ok: 'boolean' },
} as const;

/** Router process → master. */
export const ROUTER_CHILD_ACTS = {
  'ready': {},
  'subscription': { packet: 'string' },
  'reply': { ok: 'boolean' },
} as const;

export type RouterMasterActs = typeof ROUTER_MASTER_ACTS;
export type RouterChildActs = typeof ROUTER_CHILD_ACTS;
export type RouterChannel = Channel<RouterChildActs, RouterMasterActs, number>;

/** What a router process is spawned with (env TSGI_FASTROUTER, JSON); fds are its own numbers. */
export interface RouterSpec {
  slot: number;
  masterPid: number;
  options: Options;
  /** As logs and stats name them. */
  listenNames: string[];
  listenFds: number[];
  subscription?: { fd: number; family: 'udp4' | 'udp6' };
  statsFd?: number;
  regionFd?: number;
}

export const ROUTER_ENV = 'TSGI_FASTROUTER';
