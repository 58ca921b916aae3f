/**
 * Requests that arrived while every core was busy (http, FastCGI), served oldest first as cores
 * free. A connection may close while it waits: the queue asks its protocol before serving it.
 */
import type { Core } from '../worker/core.js';
import type { ProtocolContext } from './registry.js';

/** What the queue needs from the protocol whose requests wait in it. */
export interface QueueOwner<T> {
  /** Whether `item` still has a request to serve (its connection may be gone). */
  waitsForCore(item: T): boolean;
  /** Serves `item`'s request on `core`. */
  serveOn(item: T, core: Core): void;
}

export class CoreQueue<T> {
  readonly #items: T[] = [];

  constructor(readonly context: ProtocolContext, readonly owner: QueueOwner<T>) {}

  /** Serves `item` now if a core is free, else queues it (and says that every core is busy). */
  serveOrQueue(item: T): void {
    const core = this.context.scheduler.acquire();
    if (core !== null) return this.owner.serveOn(item, core);
    this.#items.push(item);
    this.context.onFull();
  }

  /** Starts the oldest request still waiting; true if it took a core. */
  serveNext(): boolean {
    for (;;) {
      const item = this.#items[0];
      if (item === undefined) return false;
      if (!this.owner.waitsForCore(item)) {
        this.#items.shift();
        continue;
      }
      const core = this.context.scheduler.acquire();
      if (core === null) return false;
      this.#items.shift();
      this.owner.serveOn(item, core);
      return true;
    }
  }

  /** `item` no longer waits (its connection closed, or its request was aborted). */
  remove(item: T): void {
    const at = this.#items.indexOf(item);
    if (at >= 0) this.#items.splice(at, 1);
  }
}
