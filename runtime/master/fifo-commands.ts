/**
 * The master FIFO's one-byte commands, as uWSGI documents them, each implemented with the
 * machinery tsgi has; the rest (`p` pause, `C` cheap mode, `E` emperor rescan, `B` broodlord,
 * `S` subscriptions) log that they are not supported. Whitespace is ignored,
 * so `echo r > fifo` works.
 */
import { log } from '../logger.js';
import { reopenLogs, rotateLogs } from '../logging/setup.js';
import { statsDocument } from '../stats/server.js';
import { SCOREBOARD_SLOTS } from '../shared/state.js';
import type { ChildPool } from './child-pool.js';
import { writePidfile } from './pidfile.js';
import { growPool, listSlots, shrinkPool } from './pool-size.js';
import type { MasterHost, Subsystem } from './subsystem.js';

/** What the commands may ask of the FIFO itself. */
export interface FifoControl {
  select(slot: number): void;
  reopen(): void;
}

type Command = (fifo: FifoControl, host: MasterHost) => void;

const COMMANDS: Record<string, Command> = {
  r: (_, host) => announce('r', 'graceful reload', () => host.reload('graceful')),
  R: (_, host) => announce('R', 'brutal reload', () => host.reload('brutal')),
  c: (_, host) => announce('c', 'chain reload', () => host.reload('chain')),
  w: (_, host) => announce('w', 'graceful reload of the workers', () => host.reload('workers')),
  W: (_, host) => announce('W', 'brutal reload of the workers', () => host.reload('workers-brutal')),
  q: (_, host) => host.shutdown('master FIFO q', 0),
  Q: (_, host) => host.shutdown('master FIFO Q', 0, true),
  '+': (_, host) => resize(host, +1),
  '-': (_, host) => resize(host, -1),
  l: () => reopenLogs('master FIFO l'),
  L: (_, host) => rotateLogs(0, host.options['log-backupname'], 'master FIFO L'),
  s: (_, host) => log(`master FIFO s: ${JSON.stringify(statsDocument(host.options, host.shared, host.sockets, statsRows(host)))}`),
  f: (fifo) => fifo.reopen(),
  P: (_, host) => {
    if (host.options.pidfile === undefined) return log('master FIFO P: no --pidfile to update');
    writePidfile(host.options.pidfile);
    log(`master FIFO P: wrote pid ${process.pid} to ${host.options.pidfile}`);
  },
};

const IGNORED = new Set([0x0a, 0x0d, 0x20, 0x09]);
const ZERO = 0x30;

export function runFifoCommand(byte: number, fifo: FifoControl, host: MasterHost): void {
  if (IGNORED.has(byte)) return;
  if (byte >= ZERO && byte <= ZERO + 9) return fifo.select(byte - ZERO);
  const name = String.fromCharCode(byte);
  const command = COMMANDS[name];
  if (command !== undefined) return command(fifo, host);
  const shown = byte > 0x20 && byte < 0x7f ? name : `\\x${byte.toString(16).padStart(2, '0')}`;
  log(`master FIFO command ${shown} is not supported`);
}

function announce(name: string, what: string, run: () => void): void {
  log(`master FIFO ${name}: ${what}`);
  run();
}

/** `+` / `-`: one worker more or fewer, never below one nor above the scoreboard's room. */
function resize(host: MasterHost, by: 1 | -1): void {
  const pool = host.subsystem<Subsystem & { children: ChildPool }>('workers')?.children;
  if (pool === undefined) return log(`master FIFO ${by > 0 ? '+' : '-'}: no worker pool`);
  const serving = pool.servingSlotIds().length;
  const wanted = Math.min(SCOREBOARD_SLOTS, Math.max(1, serving + by));
  if (wanted === serving) return log(`master FIFO ${by > 0 ? '+' : '-'}: ${serving} worker(s) already, the ${by > 0 ? 'most' : 'fewest'} there can be`);
  const changed = by > 0 ? growPool(pool, wanted) : shrinkPool(pool, wanted);
  listSlots(host.shared, pool, host.options.processes);
  log(`master FIFO ${by > 0 ? '+' : '-'}: ${by > 0 ? 'added' : 'retiring'} worker ${changed.join(', ')} (${wanted} now)`);
}

function statsRows(host: MasterHost): Record<string, unknown> {
  return Object.assign({}, ...host.subsystems.map((subsystem) => subsystem.stats?.() ?? {}));
}
