/**
 * The Emperor rows of the option table (runtime/options.ts): `--emperor` turns the instance into
 * a master of masters that runs one vassal per config file (uWSGI's Emperor, spec
 * emperor-routers.md §1); `--heartbeat` is the vassal's side of the pipe protocol.
 */
import type { OptionRow } from '../options.js';
import { monitorOf } from './monitor.js';

function keyValue(value: string): void {
  if (value.indexOf('=') <= 0) throw new Error('expected OPTION=VALUE');
}

export const EMPEROR_ROWS = [
  { name: 'emperor', kind: 'string', arg: 'DIR|GLOB', section: 'Emperor', repeatable: true, check: (v) => void monitorOf(v), help: 'run the Emperor: one vassal (a tsgi instance of its own) per config file (.ini .xml .yaml .yml .json .js .db) in DIR or matching GLOB (dir:// and glob:// say which); a new file spawns one, a touched file reloads it gracefully, a removed file stops it' },
  { name: 'emperor-freq', kind: 'int', arg: 'SECONDS', section: 'Emperor', default: 3, min: 1, help: 'how often the Emperor scans for vassal files (also right after a vassal exits)' },
  { name: 'emperor-throttle', kind: 'int', arg: 'MS', section: 'Emperor', default: 1000, min: 0, help: 'an unloyal vassal (it died before serving a request) waits this long before its next spawn, and this much longer after each further unloyal death' },
  { name: 'emperor-max-throttle', kind: 'int', arg: 'MS', section: 'Emperor', default: 180000, min: 0, help: 'the longest an unloyal vassal waits; past it the wait is halved' },
  { name: 'emperor-tyrant', kind: 'flag', section: 'Emperor', default: false, help: "run each vassal as its config file's owner (uid/gid); files owned by root are refused, and a change of owner stops the vassal" },
  { name: 'emperor-stats', aliases: ['emperor-stats-server'], kind: 'address', arg: 'ADDR', section: 'Emperor', help: 'serve the vassal table as JSON on ADDR (uWSGI\'s emperor stats: vassals with pid, loyalty, respawns, last mod; the throttle blacklist)' },
  { name: 'emperor-required-heartbeat', kind: 'int', arg: 'SECONDS', section: 'Emperor', default: 30, min: 1, help: 'a vassal that sent heartbeats (--heartbeat) and then none for this long is killed and respawned' },
  { name: 'emperor-curse-tolerance', kind: 'int', arg: 'SECONDS', section: 'Emperor', default: 30, min: 0, help: 'a vassal asked to stop (or whose pipe closed) that still runs after this long is killed' },
  { name: 'emperor-graceful-shutdown', kind: 'flag', section: 'Emperor', default: false, help: "a removed file's vassal gets a graceful stop (pipe byte 2, in-flight requests finish) instead of a stop (byte 0)" },
  { name: 'emperor-wrapper', aliases: ['emperor-binary'], kind: 'string', arg: 'PATH', section: 'Emperor', help: 'run vassals with this binary instead of tsgi, e.g. /usr/bin/uwsgi (it gets uWSGI\'s argv: --inherit, --include, --set, --ini FILE …)' },
  { name: 'vassals-inherit', kind: 'string', arg: 'FILE', section: 'Emperor', repeatable: true, help: "a config template every vassal loads after its own file (--inherit)" },
  { name: 'vassals-include', kind: 'string', arg: 'FILE', section: 'Emperor', repeatable: true, help: 'a config file every vassal loads after its own file and the templates (--include)' },
  { name: 'vassals-inherit-before', kind: 'string', arg: 'FILE', section: 'Emperor', repeatable: true, help: "a config template every vassal loads before its own file" },
  { name: 'vassals-include-before', kind: 'string', arg: 'FILE', section: 'Emperor', repeatable: true, help: 'a config file every vassal loads before its own file' },
  { name: 'vassal-set', aliases: ['vassals-set'], kind: 'string', arg: 'OPTION=VALUE', section: 'Emperor', repeatable: true, check: keyValue, help: "set an option in every vassal (before its file, so the file's own value wins)" },
  { name: 'heartbeat', kind: 'int', arg: 'SECONDS', section: 'Emperor', default: 0, min: 0, help: 'a vassal tells its Emperor it is alive every SECONDS (pipe byte 26); 0: never' },
] as const satisfies readonly OptionRow[];
