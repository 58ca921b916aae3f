/**
 * The Signals and timers rows of the option table (runtime/options.ts). A cron entry is
 * checked where it is set, so a bad one names its file and line.
 */
import type { OptionRow } from '../options.js';
import { cronEntry } from './cron.js';

export const SIGNAL_ROWS = [
  { name: 'cron', kind: 'string', arg: '"MIN HOUR DAY MONTH WEEKDAY CMD"', section: 'Signals and timers', repeatable: true, check: (v) => void cronEntry(v), help: 'the master runs CMD in a shell when the time matches (-1 = any, -N = every N)' },
] as const satisfies readonly OptionRow[];
