/**
 * The Reloading rows of the option table (runtime/options.ts): what reloads a running instance
 * besides SIGHUP (touched files, the master FIFO) and how SIGTERM is read.
 */
import type { OptionRow } from '../options.js';

export const RELOAD_ROWS = [
  { name: 'touch-reload', kind: 'string', arg: 'FILE', section: 'Reloading', repeatable: true, help: 'graceful reload (config re-read, as SIGHUP) when FILE\'s mtime changes or it appears or disappears; checked every master cycle' },
  { name: 'touch-chain-reload', kind: 'string', arg: 'FILE', section: 'Reloading', repeatable: true, help: 'chain reload (one worker at a time, each once its successor is ready) when FILE is touched' },
  { name: 'touch-workers-reload', kind: 'string', arg: 'FILE', section: 'Reloading', repeatable: true, help: 'graceful reload of the workers only (config not re-read) when FILE is touched' },
  { name: 'master-fifo', kind: 'string', arg: 'PATH', section: 'Reloading', repeatable: true, help: 'create a FIFO at PATH and read one-byte commands from it (r reload, c chain reload, q stop, + add a worker, s stats …: see the README); the first is active, 0-9 switch' },
  { name: 'die-on-term', kind: 'flag', section: 'Reloading', default: false, help: 'accepted for uWSGI configs: SIGTERM always stops tsgi gracefully (uWSGI 2.0 without it brutally reloads on SIGTERM)' },
] as const satisfies readonly OptionRow[];
