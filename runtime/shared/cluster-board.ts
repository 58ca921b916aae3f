/**
 * The cluster's node table in shared memory: the master's cluster subsystem writes what members
 * announce, and every worker reads it for `uwsgi.cluster_nodes()` and marks the node it picks in
 * `uwsgi.cluster_best_node()`, so "least recently chosen" holds across the instance's workers
 * as it did in uWSGI 0.9.8 (whose table lived in its shared area too). Up to 100 nodes; a node
 * not heard from for `--cluster-tolerance` seconds is no longer healthy and its slot is reused.
 *
 * Slot layout (256 bytes): f64 lastSeen (0 = free), f64 lastChosen, f64 workers, f64 requests,
 * then at 32 the hostname and at 96 the address, each a u8 length and up to 63 bytes of UTF-8.
 */
import type { Area } from './region.js';
import { LOCK_BYTES, SharedLock } from './lock.js';

export const MAX_NODES = 100;
const SLOT_BYTES = 256;
const TEXT_BYTES = 63;
const HOSTNAME_AT = 32;
const ADDRESS_AT = 96;
const enum Field { LastSeen, LastChosen, Workers, Requests }

export function clusterBoardSize(enabled: boolean): number {
  return enabled ? LOCK_BYTES + MAX_NODES * SLOT_BYTES : 0;
}

export interface ClusterNode {
  hostname: string;
  address: string;
  workers: number;
  requests: number;
  /** ms since the epoch. */
  lastSeen: number;
  /** ms since the epoch; 0 = never chosen. */
  lastChosen: number;
}

export class ClusterBoard {
  readonly #lock: SharedLock;
  readonly #numbers: Float64Array;
  readonly #bytes: Uint8Array;
  readonly #toleranceMs: number;

  constructor(area: Area, toleranceMs: number) {
    this.#toleranceMs = toleranceMs;
    this.#lock = new SharedLock(area.buffer, area.byteOffset);
    this.#numbers = new Float64Array(area.buffer, area.byteOffset + LOCK_BYTES, (MAX_NODES * SLOT_BYTES) / 8);
    this.#bytes = new Uint8Array(area.buffer, area.byteOffset + LOCK_BYTES, MAX_NODES * SLOT_BYTES);
  }

  /** Master: a member announced itself. Returns false when the table is full of healthy nodes. */
  refresh(node: Omit<ClusterNode, 'lastSeen' | 'lastChosen'>, now: number): boolean {
    return this.#locked(() => {
      let slot = this.#find(node.address);
      const known = slot >= 0;
      if (!known) slot = this.#freeSlot(now);
      if (slot < 0) return false;
      const at = (slot * SLOT_BYTES) / 8;
      this.#writeText(slot * SLOT_BYTES + HOSTNAME_AT, node.hostname);
      this.#writeText(slot * SLOT_BYTES + ADDRESS_AT, node.address);
      this.#numbers[at + Field.Workers] = node.workers;
      this.#numbers[at + Field.Requests] = node.requests;
      if (!known) this.#numbers[at + Field.LastChosen] = 0;
      this.#numbers[at + Field.LastSeen] = now; // last: a slot is in use once this is set
      return true;
    });
  }

  /** The nodes heard from within the tolerance, in slot order. */
  healthy(now: number): ClusterNode[] {
    return this.#locked(() => {
      const nodes: ClusterNode[] = [];
      for (let slot = 0; slot < MAX_NODES; slot++) if (this.#isHealthy(slot, now)) nodes.push(this.#read(slot));
      return nodes;
    });
  }

  /** The healthy node chosen least recently, now marked chosen; undefined when there is none. */
  chooseLeastRecent(now: number): ClusterNode | undefined {
    return this.#locked(() => {
      let best = -1;
      for (let slot = 0; slot < MAX_NODES; slot++) {
        if (!this.#isHealthy(slot, now)) continue;
        if (best < 0 || this.#number(slot, Field.LastChosen) < this.#number(best, Field.LastChosen)) best = slot;
      }
      if (best < 0) return undefined;
      this.#numbers[(best * SLOT_BYTES) / 8 + Field.LastChosen] = now;
      return this.#read(best);
    });
  }

  /** Master: frees the slots of nodes silent for longer than the tolerance; returns them. */
  expire(now: number): ClusterNode[] {
    return this.#locked(() => {
      const gone: ClusterNode[] = [];
      for (let slot = 0; slot < MAX_NODES; slot++) {
        if (this.#number(slot, Field.LastSeen) === 0 || this.#isHealthy(slot, now)) continue;
        gone.push(this.#read(slot));
        this.#numbers[(slot * SLOT_BYTES) / 8 + Field.LastSeen] = 0;
      }
      return gone;
    });
  }

  /** Master: a child died; a lock it held is taken back at once. */
  reap(pid: number): void {
    this.#lock.reap(pid);
  }

  #locked<T>(body: () => T): T {
    // Every write leaves a slot readable (lastSeen is stored last), so a dead holder needs no repair.
    if (this.#lock.acquire()) this.#lock.repaired();
    try {
      return body();
    } finally {
      this.#lock.release();
    }
  }

  #number(slot: number, field: Field): number {
    return this.#numbers[(slot * SLOT_BYTES) / 8 + field]!;
  }

  #isHealthy(slot: number, now: number): boolean {
    const seen = this.#number(slot, Field.LastSeen);
    return seen !== 0 && now - seen <= this.#toleranceMs;
  }

  #find(address: string): number {
    for (let slot = 0; slot < MAX_NODES; slot++) {
      if (this.#number(slot, Field.LastSeen) !== 0 && this.#readText(slot * SLOT_BYTES + ADDRESS_AT) === address) return slot;
    }
    return -1;
  }

  #freeSlot(now: number): number {
    for (let slot = 0; slot < MAX_NODES; slot++) if (!this.#isHealthy(slot, now)) return slot;
    return -1;
  }

  #read(slot: number): ClusterNode {
    return {
      hostname: this.#readText(slot * SLOT_BYTES + HOSTNAME_AT),
      address: this.#readText(slot * SLOT_BYTES + ADDRESS_AT),
      workers: this.#number(slot, Field.Workers),
      requests: this.#number(slot, Field.Requests),
      lastSeen: this.#number(slot, Field.LastSeen),
      lastChosen: this.#number(slot, Field.LastChosen),
    };
  }

  #readText(at: number): string {
    return Buffer.from(this.#bytes.buffer, this.#bytes.byteOffset + at + 1, this.#bytes[at]!).toString('utf8');
  }

  #writeText(at: number, text: string): void {
    const written = Buffer.from(this.#bytes.buffer, this.#bytes.byteOffset + at + 1, TEXT_BYTES).write(text, 'utf8');
    this.#bytes[at] = written;
  }
}
