/**
 * Growing and shrinking the worker pool (a re-read --processes, the master FIFO's `+` and `-`).
 * New slots take the next id; shrinking retires the highest ids, whose workers finish their
 * requests first. The scoreboard lists as many slots as the highest id (its area has room for
 * them all: see shared/state.ts).
 */
import { Scoreboard } from '../shared/scoreboard.js';
import type { SharedState } from '../shared/state.js';
import type { ChildPool } from './child-pool.js';

/** Retires the highest slots until `count` are left (at least one). Returns the ids retired. */
export function shrinkPool(pool: ChildPool, count: number): number[] {
  const serving = pool.servingSlotIds();
  const retired = serving.slice(Math.max(1, count));
  for (const id of retired) pool.removeSlot(id);
  return retired;
}

/** Adds slots until `count` serve. Returns the ids added. */
export function growPool(pool: ChildPool, count: number): number[] {
  const added: number[] = [];
  while (pool.servingSlotIds().length < count) {
    const id = Math.max(0, ...pool.slotIds()) + 1;
    pool.addSlot(id);
    added.push(id);
  }
  return added;
}

/**
 * The stats and `uwsgi.workers()` list every slot up to --processes or the highest id, if
 * higher (a slot the cheaper subsystem retired stays listed, as uWSGI lists it "cheap").
 */
export function listSlots(shared: SharedState, pool: ChildPool, processes: number): void {
  const highest = Math.max(processes, ...pool.servingSlotIds());
  if (highest !== shared.scoreboard.workers) shared.scoreboard = new Scoreboard(shared.region.area('scoreboard'), highest);
}
