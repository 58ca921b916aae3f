/**
 * The cluster an instance joined with `--cluster` (or watches with `--cluster-nodes`), as
 * uWSGI 0.9.8's Python module offered it: the node table lives in shared memory, written by the
 * master from the members' announcements, so every worker sees the same nodes.
 */
import { hostname } from 'node:os';
import { workerContext } from '../runtime/context.js';
import type { ClusterBoard } from '../runtime/shared/cluster-board.js';

function board(member: string): ClusterBoard | null {
  return workerContext(member).shared.cluster;
}

export const clusterApi = {
  /**
   * The cluster's address (`225.1.1.1:1717`), or null when the instance is in no cluster.
   * @example
   * if (uwsgi.cluster()) console.log('clustered on', uwsgi.cluster());
   */
  cluster(): string | null {
    const { options } = workerContext('cluster');
    return options.cluster ?? null;
  },
  /**
   * The addresses (each node's first socket) of the healthy nodes: heard from in the last 30 s.
   * @example
   * for (const node of uwsgi.cluster_nodes()) uwsgi.rpc(node, 'hello');
   */
  cluster_nodes(): string[] {
    return board('cluster_nodes')?.healthy(Date.now()).map((node) => node.address) ?? [];
  },
  /**
   * The hostname of the node at `address`, or this machine's hostname without an argument;
   * null for an address no healthy node has.
   * @example
   * const name = uwsgi.cluster_node_name(uwsgi.cluster_best_node());
   */
  cluster_node_name(address?: string | null): string | null {
    const nodes = board('cluster_node_name');
    if (address === undefined || address === null) return hostname();
    return nodes?.healthy(Date.now()).find((node) => node.address === address)?.hostname ?? null;
  },
  /**
   * The healthy node chosen least recently by any worker of this instance (it is then marked
   * chosen), or null when there is none: a simple load spreader over the cluster.
   * @example
   * const node = uwsgi.cluster_best_node();
   * if (node) yield uwsgi.rpc(node, 'work', payload);
   */
  cluster_best_node(): string | null {
    return board('cluster_best_node')?.chooseLeastRecent(Date.now())?.address ?? null;
  },
};
