/**
 * How the worker pool does each kind of reload ({@link ReloadKind}), resized first to the
 * --processes the master now holds (a re-read config may have changed it): retired slots go
 * before the new generation spawns, so none of them gets a successor; added ones join it.
 */
import { log } from '../logger.js';
import type { ChildPool } from './child-pool.js';
import { growPool, listSlots, shrinkPool } from './pool-size.js';
import type { MasterHost, ReloadKind } from './subsystem.js';

export function reloadWorkers(pool: ChildPool, kind: ReloadKind, host: MasterHost): void {
  const count = poolTarget(pool, host);
  const retired = shrinkPool(pool, count);
  const next = pool.generation + 1;
  const slots = pool.servingSlotIds().length;
  const resized = retired.length > 0 ? `, retiring worker ${retired.join(', ')}` : '';
  switch (kind) {
    case 'chain':
      if (pool.chaining) return log('chain reload already running: ignored');
      log(`chain reload: replacing the ${slots} worker(s) one at a time with generation ${next}${resized}`);
      pool.chainReload();
      break;
    case 'brutal':
    case 'workers-brutal':
      log(`brutal reload: killing the ${slots} worker(s), spawning generation ${next}${resized}`);
      pool.brutalReload();
      break;
    default:
      log(`graceful reload: spawning generation ${next}${resized}`);
      pool.reload();
  }
  const added = growPool(pool, count);
  if (added.length > 0) log(`${count} worker(s): added worker ${added.join(', ')}`);
  listSlots(host.shared, pool, host.options.processes);
}

/**
 * How many workers the reloaded pool has: --processes, or under --cheaper as many as run now,
 * kept between --cheaper and --processes (the cheaper subsystem goes on from there).
 */
function poolTarget(pool: ChildPool, host: MasterHost): number {
  const { cheaper, processes } = host.options;
  if (cheaper === 0) return processes;
  return Math.min(processes, Math.max(cheaper, pool.servingSlotIds().length));
}
