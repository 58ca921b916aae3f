/**
 * The node table of a subscription server (uWSGI's `uwsgi_subscribe_slot`s, core/subscription.c):
 * routing key → the nodes that announced themselves for it. The FastRouter picks from it, and
 * so can the HTTP router. Semantics (spec emperor-routers.md §2.3):
 *
 * - {@link NodeTable.subscribe}: a known (key, address) is refreshed (last heard, weight, cores,
 *   load; modifier1/2 stay as first announced) and revived if it was dead; else it is appended.
 * - {@link NodeTable.unsubscribe}, a failed connect ({@link NodeTable.markFailed}) and silence
 *   for longer than the tolerance mark a node dead; a dead node is removed once no session
 *   holds it, and a key left without nodes is deleted.
 * - {@link NodeTable.pick}: `wrr` (each node gets weight/min-weight turns per round, in order),
 *   `lrc` (fewest sessions in flight) or `wlrc` (sessions per weight). Expiry of a key is
 *   checked when it is picked, as uWSGI does; {@link NodeTable.expire} sweeps every key.
 *
 * A session that picked a node holds it until {@link NodeTable.release}.
 *
 * @example
 * const table = new NodeTable({ toleranceMs: 17_000, algo: 'wrr' });
 * table.subscribe(parseSubscription(datagram), Date.now());
 * const node = table.pick('example.com', Date.now()); // null: no live node for that key
 * if (node) { …connect to node.address…; table.release(node); }
 */
import type { Subscription } from './subscription/packet.js';

export type BalanceAlgo = 'wrr' | 'lrc' | 'wlrc';

export interface RouterNode {
  readonly key: string;
  readonly address: string;
  readonly modifier1: number;
  readonly modifier2: number;
  weight: number;
  cores: number;
  load: number;
  /** When it last announced itself (ms). */
  lastCheck: number;
  /** Why it is dead ('' while alive): 'unsubscribed', 'expired', 'connect failed'. */
  deathMark: string;
  /** Sessions holding it now. */
  references: number;
  /** Turns taken in the current weighted round. */
  wrr: number;
  requests: number;
  failures: number;
}

export interface NodeTableOptions {
  /** A node silent for longer is dead (--subscription-tolerance). */
  toleranceMs: number;
  algo: BalanceAlgo;
}

export interface KeyStats {
  key: string;
  hits: number;
  nodes: Array<Omit<RouterNode, 'key'>>;
}

interface Slot {
  nodes: RouterNode[];
  hits: number;
}

export class NodeTable {
  readonly #slots = new Map<string, Slot>();

  constructor(private readonly options: NodeTableOptions) {}

  /** Adds or refreshes the announced node; returns whether it is new. */
  subscribe(s: Subscription, now: number): boolean {
    let slot = this.#slots.get(s.key);
    if (slot === undefined) this.#slots.set(s.key, (slot = { nodes: [], hits: 0 }));
    const known = slot.nodes.find((node) => node.address === s.address);
    if (known !== undefined) {
      known.lastCheck = now;
      known.deathMark = '';
      known.weight = s.weight || 1;
      known.cores = s.cores;
      known.load = s.load;
      return false;
    }
    slot.nodes.push({
      key: s.key, address: s.address, modifier1: s.modifier1, modifier2: s.modifier2, weight: s.weight || 1, cores: s.cores, load: s.load,
      lastCheck: now, deathMark: '', references: 0, wrr: 0, requests: 0, failures: 0,
    });
    return true;
  }

  /** Marks the node dead (removed when no session holds it); returns whether it was known. */
  unsubscribe(s: Pick<Subscription, 'key' | 'address'>): boolean {
    const slot = this.#slots.get(s.key);
    const node = slot?.nodes.find((candidate) => candidate.address === s.address);
    if (slot === undefined || node === undefined) return false;
    node.deathMark = 'unsubscribed';
    this.#prune(s.key, slot);
    return true;
  }

  /** A connect to it failed: dead until it announces itself again. */
  markFailed(node: RouterNode): void {
    node.failures++;
    node.deathMark = 'connect failed';
    const slot = this.#slots.get(node.key);
    if (slot !== undefined) this.#prune(node.key, slot);
  }

  /** A live node for `key`, now held by the caller until {@link release}; null if it has none. */
  pick(key: string, now: number): RouterNode | null {
    const slot = this.#slots.get(key);
    if (slot === undefined) return null;
    this.#expireSlot(key, slot, now);
    const node = this.#choose(slot.nodes);
    if (node === null) return null;
    slot.hits++;
    node.requests++;
    node.references++;
    return node;
  }

  /** The session that picked `node` is over. */
  release(node: RouterNode): void {
    node.references--;
    if (node.deathMark !== '' && node.references <= 0) {
      const slot = this.#slots.get(node.key);
      if (slot !== undefined) this.#prune(node.key, slot);
    }
  }

  /** Marks every node silent for longer than the tolerance dead; returns how many. */
  expire(now: number): number {
    let expired = 0;
    for (const [key, slot] of this.#slots) expired += this.#expireSlot(key, slot, now);
    return expired;
  }

  get size(): number {
    return this.#slots.size;
  }

  /** uWSGI's `subscriptions` rows of a router's stats. */
  stats(): KeyStats[] {
    return [...this.#slots].map(([key, slot]) => ({ key, hits: slot.hits, nodes: slot.nodes.map(({ key: _, ...node }) => ({ ...node })) }));
  }

  #expireSlot(key: string, slot: Slot, now: number): number {
    let expired = 0;
    for (const node of slot.nodes) {
      if (node.deathMark === '' && now - node.lastCheck > this.options.toleranceMs) {
        node.deathMark = 'expired';
        expired++;
      }
    }
    if (expired > 0) this.#prune(key, slot);
    return expired;
  }

  /** Drops the dead nodes no session holds, and the key once it has no nodes. */
  #prune(key: string, slot: Slot): void {
    slot.nodes = slot.nodes.filter((node) => node.deathMark === '' || node.references > 0);
    if (slot.nodes.length === 0) this.#slots.delete(key);
  }

  #choose(nodes: RouterNode[]): RouterNode | null {
    switch (this.options.algo) {
      case 'wrr': return weightedRoundRobin(nodes);
      case 'lrc': return leastBy(nodes, (node) => node.references);
      case 'wlrc': return leastBy(nodes, (node) => node.references / node.weight);
    }
  }
}

/** uWSGI's wrr: the first live node with turns left in this round (weight / smallest weight); none left: a new round. */
function weightedRoundRobin(nodes: RouterNode[]): RouterNode | null {
  let minWeight = Infinity;
  for (const node of nodes) if (node.deathMark === '' && node.weight < minWeight) minWeight = node.weight;
  if (minWeight === Infinity) return null;
  for (const node of nodes) {
    if (node.deathMark === '' && node.wrr < Math.max(1, Math.floor(node.weight / minWeight))) {
      node.wrr++;
      return node;
    }
  }
  let first: RouterNode | null = null;
  for (const node of nodes) {
    if (node.deathMark !== '') continue;
    node.wrr = 0;
    first ??= node;
  }
  first!.wrr = 1;
  return first;
}

function leastBy(nodes: RouterNode[], measure: (node: RouterNode) => number): RouterNode | null {
  let best: RouterNode | null = null;
  let bestValue = Infinity;
  for (const node of nodes) {
    if (node.deathMark !== '') continue;
    const value = measure(node);
    if (value < bestValue) {
      best = node;
      bestValue = value;
    }
  }
  return best;
}
