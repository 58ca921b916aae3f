/**
 * The instance's queue (`--queue N`) from an app: a ring of slots in shared memory, used as a
 * LIFO stack or a FIFO queue by any worker, with no round trip to the master.
 */
import { tsgiError } from '../runtime/errors.js';
import type { SharedQueue } from '../runtime/shared/queue.js';
import { workerContext } from '../runtime/context.js';
import type { Bytes } from './types.js';

function queue(member: string): SharedQueue {
  const shared = workerContext(member).shared.queue;
  if (shared === null) throw tsgiError('TSGI_ERR_API_ARGUMENT', `uwsgi.${member}: no queue is configured (start tsgi with --queue N)`);
  return shared;
}

export const queueApi = {
  /**
   * Writes `message` at the push pointer (overwriting what was there) and advances it.
   * @example
   * uwsgi.queue_push('ciao');
   */
  queue_push(message: Bytes): boolean {
    return queue('queue_push').push(message);
  },
  /**
   * LIFO: moves the push pointer back and takes that message (null if the slot is empty).
   * @example
   * const last = uwsgi.queue_pop();
   */
  queue_pop(): Buffer | null {
    return queue('queue_pop').pop();
  },
  /**
   * FIFO: takes the message at the pull pointer and advances it (null if empty).
   * @example
   * for (let m = uwsgi.queue_pull(); m; m = uwsgi.queue_pull()) handle(m);
   */
  queue_pull(): Buffer | null {
    return queue('queue_pull').pull();
  },
  /**
   * Reads slot `index` without removing it.
   * @example
   * const first = uwsgi.queue_get(0);
   */
  queue_get(index: number): Buffer | null {
    return queue('queue_get').get(index);
  },
  /**
   * Writes slot `index`, leaving the pointers alone.
   * @example
   * uwsgi.queue_set(3, 'hello');
   */
  queue_set(index: number, message: Bytes): boolean {
    return queue('queue_set').set(index, message);
  },
  /**
   * The newest message (n = 0), or the last `n` newest-first (null for empty slots); nothing is
   * removed.
   * @example
   * const recent = uwsgi.queue_last(10);
   */
  queue_last(n = 0): Buffer | null | Array<Buffer | null> {
    return queue('queue_last').last(n);
  },
  /**
   * The push pointer.
   * @example
   * const next = uwsgi.queue_slot();
   */
  queue_slot(): number {
    return queue('queue_slot').slot();
  },
  /**
   * The pull pointer.
   * @example
   * const pending = uwsgi.queue_slot() - uwsgi.queue_pull_slot();
   */
  queue_pull_slot(): number {
    return queue('queue_pull_slot').pullSlot();
  },
};
