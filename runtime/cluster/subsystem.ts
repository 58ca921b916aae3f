/**
 * The master's part of `--cluster` / `--cluster-nodes`: it listens on the cluster's group,
 * keeps the node table (runtime/shared/cluster-board.ts) that workers read, announces this node
 * at start and every `--cluster-freq` seconds (uWSGI: every 10 master cycles), and obeys the
 * other messages of wire.md §12. Unlike uWSGI it also announces itself when it hears a node
 * join, so a newcomer knows the whole cluster at once instead of after a period. A `--cluster-nodes` node only listens: it never announces,
 * answers configuration requests or reloads on the cluster's word.
 */
import type { RemoteInfo } from 'node:dgram';
import { hostname } from 'node:os';
import { log, logError } from '../logger.js';
import type { MasterHost, StatsRows, Subsystem } from '../master/subsystem.js';
import type { ClusterBoard } from '../shared/cluster-board.js';
import { optionPairs } from '../config/show.js';
import { openClusterSocket, parseClusterAddress, type ClusterAddress, type ClusterSocket } from './socket.js';
import {
  CLUSTER_MODIFIER, CONFIG_REPLY, CONFIG_REQUEST, decodeAnnouncement, decodeMessage, encodeAnnouncement, encodeMessage, encodePairs,
} from './wire.js';

/** Refused datagrams are logged on the first one and then every this many, never one line each. */
const REFUSED_LOG_EVERY = 100;

export class Cluster implements Subsystem {
  readonly name = 'cluster';
  #host: MasterHost | null = null;
  #address: ClusterAddress | null = null;
  #socket: ClusterSocket | null = null;
  #board: ClusterBoard | null = null;
  #member = false;
  #nextAnnounce = 0;
  #refused = 0;

  async start(host: MasterHost): Promise<void> {
    const { options } = host;
    const text = options.cluster ?? options['cluster-nodes'];
    if (text === undefined) return;
    this.#host = host;
    this.#member = options.cluster !== undefined;
    this.#board = host.shared.cluster;
    this.#address = parseClusterAddress(text, this.#member ? 'cluster' : 'cluster-nodes');
    this.#socket = await openClusterSocket(this.#address, (datagram, from) => this.#receive(datagram, from), (error) => logError(`cluster ${text}`, error));
    log(`cluster ${text}: ${this.#member ? 'joined' : 'listening (--cluster-nodes)'}`);
    if (this.#member) this.#socket.send(encodeMessage(CLUSTER_MODIFIER.join, 0, hostname()));
  }

  cycle(now: number): number | void {
    if (this.#socket === null) return;
    for (const node of this.#board!.expire(now)) log(`cluster: node ${node.address} (${node.hostname}) is gone: silent for ${this.#host!.options['cluster-tolerance']} s`);
    if (!this.#member) return;
    if (now >= this.#nextAnnounce) {
      this.#socket.send(encodeAnnouncement(this.#announcement()));
      this.#nextAnnounce = now + this.#host!.options['cluster-freq'] * 1000;
    }
    return this.#nextAnnounce;
  }

  stats(): StatsRows {
    if (this.#board === null) return {};
    return { cluster: { address: this.#address!.text, member: this.#member, nodes: this.#board.healthy(Date.now()) } };
  }

  close(): void {
    this.#socket?.close();
    this.#socket = null;
  }

  #announcement() {
    const host = this.#host!;
    const first = host.sockets[0];
    return {
      hostname: hostname(),
      address: first?.name ?? '',
      workers: host.options.processes,
      requests: host.shared.scoreboard.readAll().reduce((sum, worker) => sum + worker.requests, 0),
    };
  }

  #receive(datagram: Buffer, from: RemoteInfo): void {
    try {
      const { modifier1, modifier2, payload } = decodeMessage(datagram);
      switch (modifier1) {
        case CLUSTER_MODIFIER.join:
          log(`cluster: new node available: ${payload.toString('utf8')} (${from.address})`);
          this.#nextAnnounce = 0;
          return this.#host!.wake();
        case CLUSTER_MODIFIER.announce: {
          const node = decodeAnnouncement(payload);
          if (!this.#board!.refresh(node, Date.now())) log(`cluster: node table full (100 nodes): ${node.address} not added`);
          return;
        }
        case CLUSTER_MODIFIER.log:
          return log(`[cluster ${from.address}] ${payload.toString('utf8').replace(/\n+$/, '')}`);
        case CLUSTER_MODIFIER.reload:
          if (!this.#member) return;
          log(`cluster: ${from.address} asked every member to reload`);
          return this.#host!.reload('graceful');
        case CLUSTER_MODIFIER.config:
          if (modifier2 === CONFIG_REQUEST && this.#member) {
            log(`cluster: sending my configuration to ${from.address}`);
            this.#socket!.send(encodeMessage(CLUSTER_MODIFIER.config, CONFIG_REPLY, encodePairs(optionPairs(this.#host!.options, '1'))));
          }
          return;
        default:
          throw new Error(`unknown modifier1 ${modifier1}`);
      }
    } catch (error) {
      if (this.#refused++ % REFUSED_LOG_EVERY === 0) log(`cluster: dropped a datagram from ${from.address}:${from.port} (${this.#refused} so far): ${(error as Error).message}`);
    }
  }
}
