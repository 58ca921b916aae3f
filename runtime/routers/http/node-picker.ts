/**
 * Which node a request goes to. The router asks through a two-method interface so that the
 * shared node table of the routers (runtime/routers/nodes.ts: weights, subscriptions, expiry)
 * can replace this static round robin without touching the router.
 */

/** A uwsgi node as written in --http-to (`host:port`, `/path`, `@abstract`). */
export type NodeAddress = string;

export interface NodePicker {
  /** The next node for a request whose routing key (Host) is `key`, or undefined if there is none. */
  pick(key: string): NodeAddress | undefined;
  /** A connect to `node` failed: skip it for a while. */
  markFailed(node: NodeAddress): void;
}

/** How long a node that failed to connect is skipped (uWSGI's --fastrouter-gracetime default). */
export const FAILED_NODE_GRACE_MS = 30_000;

/**
 * `--http-to` nodes in strict round robin, skipping nodes that failed within the grace time;
 * when every node failed recently it tries them anyway (a restarted node is found at once
 * instead of 30 s later).
 */
export class RoundRobinNodes implements NodePicker {
  #next = 0;
  readonly #failedAt: number[];

  constructor(private readonly nodes: readonly NodeAddress[], private readonly now: () => number = Date.now) {
    this.#failedAt = nodes.map(() => 0);
  }

  pick(_key: string): NodeAddress | undefined {
    const count = this.nodes.length;
    if (count === 0) return undefined;
    const now = this.now();
    for (let tried = 0; tried < count; tried++) {
      const at = this.#next;
      this.#next = (at + 1) % count;
      if (now - this.#failedAt[at]! >= FAILED_NODE_GRACE_MS) return this.nodes[at];
    }
    const at = this.#next;
    this.#next = (at + 1) % count;
    return this.nodes[at];
  }

  markFailed(node: NodeAddress): void {
    const at = this.nodes.indexOf(node);
    if (at >= 0) this.#failedAt[at] = this.now();
  }
}
