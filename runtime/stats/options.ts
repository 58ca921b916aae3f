/**
 * The stats server's rows of the option table (runtime/options.ts). They stay in the Shared
 * state section, where uWSGI users find them, after the cache and queue rows.
 */
import type { OptionRow } from '../options.js';

export const STATS_ROWS = [
  { name: 'stats', aliases: ['stats-server'], kind: 'address', arg: 'ADDR', section: 'Shared state', help: "serve the instance's stats as JSON on ADDR (TCP host:port or a unix path), as uWSGI's stats server" },
  { name: 'stats-http', kind: 'flag', section: 'Shared state', default: false, help: 'prefix the stats JSON with HTTP response headers' },
  { name: 'stats-minified', aliases: ['stats-min'], kind: 'flag', section: 'Shared state', default: false, help: 'stats JSON without indentation' },
] as const satisfies readonly OptionRow[];
