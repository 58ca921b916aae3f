/**
 * `--emperor-stats ADDR`: the vassal table as JSON, in the shape of uWSGI's emperor stats
 * (`emperor_send_stats`): the monitors, every vassal with its pid, loyalty, readiness, last
 * heartbeat, respawns and the mtime of its file, and the throttle blacklist. Times are Unix
 * seconds, as uWSGI's.
 */
import type { Monitor } from './monitor.js';
import type { VassalTable } from './vassals.js';

const seconds = (ms: number) => Math.floor(ms / 1000);

export function emperorStatsDocument(table: VassalTable, monitors: readonly Monitor[], tyrant: boolean): Record<string, unknown> {
  return {
    version: '2.0.30-tsgi',
    pid: process.pid,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    cwd: process.cwd(),
    emperor: monitors.map((monitor) => `${monitor.kind}://${monitor.target}`),
    emperor_tyrant: tyrant ? 1 : 0,
    throttle_level: 0,
    vassals: table.vassals().map((vassal) => ({
      id: vassal.name,
      path: vassal.file.path,
      pid: vassal.pid,
      born: seconds(vassal.bornAt),
      last_mod: seconds(table.record(vassal.file.path)?.mtimeMs ?? vassal.file.mtimeMs),
      last_heartbeat: seconds(vassal.lastHeartbeat),
      loyal: vassal.loyal ? 1 : 0,
      ready: vassal.ready ? 1 : 0,
      accepting: vassal.accepting ? 1 : 0,
      last_loyal: seconds(vassal.lastLoyal),
      last_ready: seconds(vassal.lastReady),
      last_accepting: seconds(vassal.lastAccepting),
      cursed: seconds(vassal.cursedAt),
      uid: vassal.file.uid,
      gid: vassal.file.gid,
      respawns: table.record(vassal.file.path)?.respawns ?? 0,
    })),
    blacklist: table.blacklist.entries().map(([path, entry]) => ({
      id: path,
      throttle_level: entry.throttleMs,
      attempt: entry.attempts,
      first_attempt: seconds(entry.firstAttempt),
      last_attempt: seconds(entry.lastAttempt),
    })),
  };
}
