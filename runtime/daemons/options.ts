/**
 * The Daemons rows of the option table (runtime/options.ts): external programs the master runs
 * beside the workers (uWSGI's attached daemons). Each value is parsed where it is set, so a bad
 * one names its option, file and line.
 */
import type { Options, OptionRow } from '../options.js';
import { attachDaemon2, smartAttachDaemon } from './spec.js';

export const DAEMON_ROWS = [
  { name: 'attach-daemon', kind: 'string', arg: 'CMD', section: 'Daemons', repeatable: true, help: 'the master runs /bin/sh -c CMD after the workers, respawns it when it exits (with a growing back-off), and stops it (its process group) on reload and shutdown; its output is logged as [daemon N]' },
  { name: 'attach-daemon2', kind: 'string', arg: 'KEY=VALUE,…', section: 'Daemons', repeatable: true, check: (v) => void attachDaemon2(v), help: 'an attached daemon with keys cmd, pidfile (then it is a smart daemon), stopsignal, reloadsignal (a reload or touch sends it instead of a restart), touch (FILE;FILE: restart when one changes), freq (seconds a smart daemon gets to write its pidfile), daemonize (tsgi writes the pidfile)' },
  { name: 'smart-attach-daemon', kind: 'string', arg: '"PIDFILE CMD"', section: 'Daemons', repeatable: true, check: (v) => void smartAttachDaemon(v), help: 'run CMD (which forks itself and writes PIDFILE) unless the pid in PIDFILE is alive; it survives reloads, is spawned again when that pid dies, and stopped at shutdown' },
  { name: 'smart-attach-daemon2', kind: 'string', arg: '"PIDFILE CMD"', section: 'Daemons', repeatable: true, check: (v) => void smartAttachDaemon(v, true), help: 'like --smart-attach-daemon for a CMD that does not fork: tsgi writes its pid to PIDFILE' },
] as const satisfies readonly OptionRow[];

/** Daemons are the master's children: any of these options makes the instance supervised (as uWSGI needs its master). */
export function hasDaemons(options: Options): boolean {
  return DAEMON_ROWS.some((row) => options[row.name].length > 0);
}
