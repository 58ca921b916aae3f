/**
 * The metrics endpoint's row of the option table (runtime/options.ts), in the Shared state
 * section beside the stats server's rows: both read the same scoreboard.
 */
import type { OptionRow } from '../options.js';

export const METRICS_ROWS = [
  { name: 'metrics', kind: 'address', arg: 'ADDR', section: 'Shared state', help: 'serve Prometheus / OpenMetrics text at /metrics over HTTP on ADDR (TCP host:port or a unix path), from the master; per-worker labels, a request-duration histogram (also at /metrics of the stats server under --stats-http)' },
] as const satisfies readonly OptionRow[];
