/**
 * The Recycling rows of the option table (runtime/options.ts): when the master replaces a
 * worker with a fresh one (uWSGI's worker lifecycle limits, semantics.md §9). Every recycle is
 * graceful (the replacement is ready before the old worker stops accepting and finishes its
 * requests) except --evil-reload-on-rss, which kills.
 */
import { tsgiError } from '../errors.js';
import type { OptionCheck, OptionRow } from '../options.js';

export const RECYCLE_ROWS = [
  { name: 'max-requests', short: 'R', kind: 'int', arg: 'N', section: 'Recycling', min: 0, default: 0, help: 'recycle a worker after it served N requests (0: never)' },
  { name: 'max-requests-delta', kind: 'int', arg: 'D', section: 'Recycling', min: 0, default: 0, help: 'worker W recycles after N + (W-1) × D requests, so the workers do not all recycle at once' },
  { name: 'max-worker-lifetime', kind: 'int', arg: 'SECS', section: 'Recycling', min: 0, default: 0, help: 'recycle a worker that has run for SECS (0: never)' },
  { name: 'max-worker-lifetime-delta', kind: 'int', arg: 'SECS', section: 'Recycling', min: 0, default: 0, help: 'worker W recycles after SECS + (W-1) × this, so the workers do not all recycle at once' },
  { name: 'reload-on-rss', kind: 'int', arg: 'MB', section: 'Recycling', min: 0, default: 0, help: 'recycle a worker whose resident memory reached MB megabytes (the master reads /proc every cycle)' },
  { name: 'evil-reload-on-rss', kind: 'int', arg: 'MB', section: 'Recycling', min: 0, default: 0, help: 'SIGKILL a worker whose resident memory reached MB megabytes (its requests are cut: set it above --reload-on-rss)' },
  { name: 'min-worker-lifetime', kind: 'int', arg: 'SECS', section: 'Recycling', min: 0, default: 10, help: 'a worker younger than SECS is not recycled for --max-requests or --reload-on-rss yet (it is once it is old enough)' },
] as const satisfies readonly OptionRow[];

const RECYCLE_OPTIONS = ['max-requests', 'max-worker-lifetime', 'reload-on-rss', 'evil-reload-on-rss'] as const;

export const RECYCLE_CHECKS: readonly OptionCheck[] = [
  // Without a master nothing would replace a recycled worker: say so instead of ignoring it.
  function recyclingNeedsAMaster(options) {
    if (options.master || options.processes > 1 || options.spooler.length > 0) return;
    const given = RECYCLE_OPTIONS.find((name) => options[name] > 0);
    if (given !== undefined) throw tsgiError('TSGI_ERR_OPT_VALUE', `--${given} needs a master to replace the worker: add --master`);
  },
];
