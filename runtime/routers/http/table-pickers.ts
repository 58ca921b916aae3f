/**
 * The HTTP router's node pickers beside `--http-to`'s round robin: `--http-subscription-server`
 * (the nodes instances announce with --subscribe-to, key = Host, balanced by the shared node
 * table) and `--http-use-cluster` (the cluster member chosen least recently, spec §5).
 */
import type { ClusterBoard } from '../../shared/cluster-board.js';
import type { NodeTable, RouterNode } from '../nodes.js';
import type { NodeAddress, NodePicker } from './node-picker.js';

/**
 * Subscribed nodes. A pick is released at once: the router's exchange knows a node by its
 * address only, so `lrc`/`wlrc` here balance by picks, not by sessions in flight.
 */
export class SubscribedNodes implements NodePicker {
  readonly #picked = new Map<NodeAddress, RouterNode>();

  constructor(private readonly table: NodeTable) {}

  pick(key: string): NodeAddress | undefined {
    const node = this.table.pick(key, Date.now());
    if (node === null) return undefined;
    this.table.release(node);
    this.#picked.set(node.address, node);
    return node.address;
  }

  markFailed(address: NodeAddress): void {
    const node = this.#picked.get(address);
    if (node === undefined) return;
    this.#picked.delete(address);
    this.table.markFailed(node);
  }
}

/** The cluster's healthy nodes, least recently chosen first (by any process of the instance). */
export class ClusterNodes implements NodePicker {
  constructor(private readonly board: ClusterBoard) {}

  pick(): NodeAddress | undefined {
    return this.board.chooseLeastRecent(Date.now())?.address;
  }

  markFailed(): void {
    // A member that stopped answering stops announcing too: the table drops it after --cluster-tolerance.
  }
}
