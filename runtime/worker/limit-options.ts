/**
 * The Limits rows of the option table (runtime/options.ts): what one request and one worker
 * process may take (uWSGI's limits, semantics.md §13). Workers apply the process limits to
 * themselves after Node started (runtime/worker/limits.ts); the protocols refuse bodies over
 * --limit-post (runtime/protocols/limits.ts).
 */
import type { OptionRow } from '../options.js';

export const LIMIT_ROWS = [
  { name: 'limit-post', kind: 'int', arg: 'BYTES', section: 'Limits', min: 0, default: 0, help: 'answer 413 to a request whose body is larger than BYTES, before the app runs (CONTENT_LENGTH) or where a chunked body passes it (0: no limit)' },
  { name: 'limit-as', kind: 'int', arg: 'MB', section: 'Limits', min: 0, default: 0, help: "cap each worker's address space (RLIMIT_AS) at MB megabytes; Node reserves about 700 MB at start-up, so give well above that (0: no limit)" },
  { name: 'max-fd', kind: 'int', arg: 'N', section: 'Limits', min: 0, max: 1_048_576, default: 0, help: "set each worker's open files limit (RLIMIT_NOFILE) to N; above the hard limit only as root (0: keep the inherited limit)" },
] as const satisfies readonly OptionRow[];
