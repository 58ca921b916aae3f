/**
 * The cache and queue rows of the option table (runtime/options.ts), in its Shared state
 * section: they size the region the master creates and every worker maps (state.ts).
 */
import type { OptionRow } from '../options.js';

export const SHARED_ROWS = [
  { name: 'cache', aliases: ['cache-items'], kind: 'int', arg: 'N', section: 'Shared state', min: 0, max: 10_000_000, default: 0, help: 'a cache of N items (N−1 usable) shared by all workers' },
  { name: 'cache-blocksize', kind: 'int', arg: 'BYTES', section: 'Shared state', min: 1, max: 256 * 1024 * 1024, default: 65536, help: 'largest cache value' },
  { name: 'cache-store', kind: 'string', arg: 'FILE', section: 'Shared state', help: 'keep the cache in FILE so it survives restarts' },
  { name: 'cache-expire-freq', kind: 'number', arg: 'SECS', section: 'Shared state', min: 0.1, default: 3, help: 'how often the master sweeps expired cache items' },
  { name: 'queue', kind: 'int', arg: 'N', section: 'Shared state', min: 0, max: 10_000_000, default: 0, help: 'a shared queue of N slots' },
  { name: 'queue-blocksize', kind: 'int', arg: 'BYTES', section: 'Shared state', min: 32, max: 64 * 1024 * 1024, default: 8192, help: 'bytes per queue slot (16 of them are the item header)' },
] as const satisfies readonly OptionRow[];
