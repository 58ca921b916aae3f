/**
 * What the master hands a router process it spawns (one env var, read once): its number, the
 * --http sockets it inherits, the nodes it forwards to and the options.
 */
import type { Options } from '../../options.js';

export const ROUTER_ENV = 'TSGI_HTTP_ROUTER';
/** The first inherited listening fd: 0-2 stdio, 3 the IPC channel. */
export const FIRST_LISTENER_FD = 4;

export interface RouterSpec {
  id: number;
  masterPid: number;
  /** The --http sockets, in option order: fd FIRST_LISTENER_FD + i. */
  listeners: string[];
  nodes: string[];
  /** The nodes are the instance's own workers: their connections are links (LINK_MODIFIER2). */
  links: boolean;
  /** --http-subscription-server: the UDP socket, inherited at this fd. */
  subscription?: { fd: number; family: 'udp4' | 'udp6' };
  /** --http-use-cluster: the instance's shared region (the cluster's node table), at this fd. */
  regionFd?: number;
  options: Options;
}

/** Reads the spec and removes it from the environment (a tsgi the router starts is not a router). */
export function takeRouterSpec(): RouterSpec {
  const spec = JSON.parse(process.env[ROUTER_ENV]!) as RouterSpec;
  delete process.env[ROUTER_ENV];
  return spec;
}
