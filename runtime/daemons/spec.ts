/**
 * What one daemon option says, as a {@link DaemonSpec}: `--attach-daemon CMD`,
 * `--attach-daemon2 key=value,…`, `--smart-attach-daemon PIDFILE CMD` and
 * `--smart-attach-daemon2 PIDFILE CMD`. The parsers are pure and throw plain Errors saying what
 * is wrong: the option table's setter (options.ts `check`) wraps them with the option, file and
 * line, so a bad value is reported before anything starts.
 */
import { constants } from 'node:os';
import type { Options } from '../options.js';

export interface DaemonSpec {
  /** The shell command (`/bin/sh -c CMD`), as logs and the stats document name it. */
  readonly cmd: string;
  /** Set: a smart daemon, tracked by the pid in this file, surviving reloads. */
  readonly pidfile?: string;
  /** tsgi writes the pidfile itself (smart-attach-daemon2, `daemonize=1`): the command does not fork. */
  readonly daemonize: boolean;
  readonly stopSignal: NodeJS.Signals;
  /** Set: a reload (SIGHUP, a touched file) sends this instead of restarting the daemon. */
  readonly reloadSignal?: NodeJS.Signals;
  /** Files whose mtime changing restarts (or reload-signals) the daemon. */
  readonly touch: readonly string[];
  /** Seconds a smart daemon gets to write a live pid to its pidfile before it is spawned again. */
  readonly freq: number;
}

/** uWSGI's default `freq`: ten checks, one a second. */
const DEFAULT_FREQ = 10;

/** attach-daemon2 keys (with uWSGI's aliases) tsgi builds, by the spec field they set. */
const BUILT_KEYS: Record<string, string> = {
  command: 'cmd', cmd: 'cmd', exec: 'cmd', pidfile: 'pidfile', freq: 'freq', daemonize: 'daemonize', daemon: 'daemonize',
  touch: 'touch', stopsignal: 'stopsignal', stop_signal: 'stopsignal', reloadsignal: 'reloadsignal', reload_signal: 'reloadsignal',
};
/** uWSGI keys tsgi knows but does not build: refused, so a config never silently runs differently (as root, in another dir). */
const UNBUILT_KEYS = ['control', 'stdin', 'uid', 'gid', 'ns_pid', 'chdir', 'max_throttle', 'notifypid', 'legion'];

/** `--attach-daemon CMD`: a plain command, respawned when it exits. */
export function attachDaemon(cmd: string): DaemonSpec {
  return { cmd, daemonize: false, stopSignal: 'SIGTERM', touch: [], freq: DEFAULT_FREQ };
}

/**
 * `--smart-attach-daemon PIDFILE[,FREQ] CMD` (uWSGI splits at the first space). With `daemonize`
 * (smart-attach-daemon2) tsgi writes the pidfile, for commands that do not fork themselves.
 */
export function smartAttachDaemon(value: string, daemonize = false): DaemonSpec {
  const space = value.indexOf(' ');
  const cmd = space < 0 ? '' : value.slice(space + 1).trim();
  if (cmd === '') throw new Error('expected "PIDFILE CMD" (the pidfile, a space, then the command)');
  const [pidfile, freq] = value.slice(0, space).split(',', 2) as [string, string | undefined];
  return { ...attachDaemon(cmd), pidfile, daemonize, freq: freq === undefined ? DEFAULT_FREQ : seconds(freq) };
}

/** `--attach-daemon2 cmd=…,pidfile=…,stopsignal=…,reloadsignal=…,touch=a;b,freq=…,daemonize=1`. */
export function attachDaemon2(value: string): DaemonSpec {
  const pairs = keyValues(value);
  const unbuilt = [...pairs.keys()].filter((key) => UNBUILT_KEYS.includes(key));
  if (unbuilt.length > 0) throw new Error(`${unbuilt.join(', ')}: not built in tsgi (it builds ${[...new Set(Object.values(BUILT_KEYS))].join(', ')})`);
  const field = new Map<string, string>();
  for (const [key, v] of pairs) {
    const name = BUILT_KEYS[key];
    if (name === undefined) throw new Error(`unknown key "${key}"`);
    field.set(name, v);
  }
  const cmd = field.get('cmd');
  if (!cmd) throw new Error('it needs a cmd key (cmd=COMMAND)');
  const reload = field.get('reloadsignal');
  const daemonize = isOn(field.get('daemonize'));
  const pidfile = field.get('pidfile');
  if (daemonize && !pidfile) throw new Error('daemonize needs a pidfile key (tsgi writes the daemon\'s pid there)');
  // uWSGI ignores it there; refusing says so where the line is, instead of silently doing nothing.
  if (field.has('freq') && !pidfile) throw new Error('freq is how long a daemon with a pidfile gets to write it: without pidfile= the growing back-off governs respawns');
  return {
    cmd,
    ...(pidfile ? { pidfile } : {}),
    daemonize,
    stopSignal: signalNamed(field.get('stopsignal') ?? 'SIGTERM'),
    ...(reload ? { reloadSignal: signalNamed(reload) } : {}),
    touch: (field.get('touch') ?? '').split(';').filter(Boolean),
    freq: field.has('freq') ? seconds(field.get('freq')!) : DEFAULT_FREQ,
  };
}

/** Every daemon of the instance, numbered 1… in this order (the `[daemon N]` of its log lines). */
export function daemonSpecs(options: Options): DaemonSpec[] {
  return [
    ...options['attach-daemon'].map(attachDaemon),
    ...options['attach-daemon2'].map(attachDaemon2),
    ...options['smart-attach-daemon'].map((value) => smartAttachDaemon(value)),
    ...options['smart-attach-daemon2'].map((value) => smartAttachDaemon(value, true)),
  ];
}

/** uWSGI's kvlist: pairs split at commas (`\,` keeps one), each at its first `=`. */
function keyValues(value: string): Map<string, string> {
  const items: string[] = [''];
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '\\' && i + 1 < value.length) items[items.length - 1] += value[++i];
    else if (value[i] === ',') items.push('');
    else items[items.length - 1] += value[i];
  }
  const pairs = new Map<string, string>();
  for (const item of items) {
    if (item.trim() === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`"${item}" is not key=value`);
    pairs.set(item.slice(0, eq).trim().toLowerCase(), item.slice(eq + 1));
  }
  return pairs;
}

/** A signal by number (uWSGI takes numbers: `stopsignal=15`) or name (`SIGTERM`, `term`). */
export function signalNamed(value: string): NodeJS.Signals {
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const name = Object.entries(constants.signals).find(([, number]) => number === Number(text))?.[0];
    if (name === undefined) throw new Error(`no signal has number ${text}`);
    return name as NodeJS.Signals;
  }
  const name = text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`;
  if (!(name in constants.signals)) throw new Error(`unknown signal "${text}"`);
  return name as NodeJS.Signals;
}

function seconds(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1) throw new Error(`freq "${value}" is not a whole number of seconds, at least 1`);
  return Number(value);
}

function isOn(value: string | undefined): boolean {
  return value !== undefined && !['0', 'false', 'no', 'off'].includes(value.trim().toLowerCase());
}
