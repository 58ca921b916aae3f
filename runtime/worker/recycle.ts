/**
 * The worker's side of --max-requests: it counts its own requests (not the scoreboard slot's,
 * which the replacement shares while the two overlap) and asks the master, once, to replace it
 * when the budget is spent. The master decides when (--min-worker-lifetime) and how
 * (runtime/master/recycling.ts): the worker serves on until its replacement is ready.
 */
import type { Options } from '../options.js';
import type { MasterRequest } from '../ipc.js';

/** What the cores of a worker share for it: one decrement and compare per request. */
export interface RequestBudget {
  /** Requests left before the worker asks to be recycled; Infinity: no --max-requests. */
  requestsLeft: number;
  /** Called by the core whose request spent the budget. */
  requestsSpent(): void;
}

/** uWSGI's threshold: N + (W − 1) × --max-requests-delta, so the workers do not all recycle together. */
export function maxRequestsOf(options: Options, workerId: number): number {
  const max = options['max-requests'];
  return max > 0 ? max + (workerId - 1) * options['max-requests-delta'] : Infinity;
}

export function requestBudget(options: Options, workerId: number, toMaster: (request: MasterRequest) => void): RequestBudget {
  const limit = maxRequestsOf(options, workerId);
  return {
    requestsLeft: limit,
    requestsSpent() {
      this.requestsLeft = Infinity; // asked once: the master remembers the request
      toMaster({ act: 'recycle', reason: `max requests reached (${limit} >= ${limit})` });
    },
  };
}
