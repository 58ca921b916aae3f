/**
 * --fastrouter-stats: whoever connects gets the router process's state as one JSON document,
 * then the connection is closed (as uWSGI's stats servers do). Its keys follow uWSGI's
 * corerouter stats where they exist: `version`, `pid`, `uid`, `gid`, `cwd`, `active_sessions`,
 * `fastrouter` (the listening addresses; uWSGI also lists its subscription server), `subscriptions` (key, hits, nodes with name, modifier1/2, last_check,
 * requests, cores, load, weight, wrr, ref, failcnt, death_mark), `cheap` (always 0: no --fastrouter-cheap), plus tsgi's `requests`,
 * `no_node`, `connect_failures`, `timeouts`, `subscription_packets`, `refused_packets`.
 */
import { createServer, type Server } from 'node:net';
import type { NodeTable } from '../nodes.js';
import type { SubscriptionServerCounters } from '../subscription/server.js';
import type { FastRouter } from './router.js';

export const TSGI_VERSION_TAG = 'tsgi';

export function statsDocument(router: FastRouter, listeners: readonly string[], table: NodeTable | null, packets: SubscriptionServerCounters): Record<string, unknown> {
  return {
    version: TSGI_VERSION_TAG,
    pid: process.pid,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    cwd: process.cwd(),
    active_sessions: router.activeSessions,
    fastrouter: listeners,
    requests: router.counters.requests,
    no_node: router.counters.noNode,
    connect_failures: router.counters.connectFailures,
    timeouts: router.counters.timeouts,
    subscription_packets: packets.packets,
    refused_packets: packets.refused,
    subscriptions: (table?.stats() ?? []).map((slot) => ({
      key: slot.key,
      hits: slot.hits,
      nodes: slot.nodes.map((node) => ({
        name: node.address, modifier1: node.modifier1, modifier2: node.modifier2, last_check: Math.floor(node.lastCheck / 1000),
        requests: node.requests, cores: node.cores, load: node.load, weight: node.weight, wrr: node.wrr, ref: node.references,
        failcnt: node.failures, death_mark: node.deathMark === '' ? 0 : 1, death_reason: node.deathMark,
      })),
    })),
    cheap: 0,
  };
}

export function serveStats(fd: number, document: () => Record<string, unknown>): Server {
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    socket.end(JSON.stringify(document()));
  });
  server.listen({ fd });
  return server;
}
