/**
 * THE option table. Every way of configuring tsgi (argv, ini, xml, yaml, json, sqlite3, pipes:
 * see config/expand.ts) reduces to `(name, value, origin)` pairs applied through `applyOption`,
 * and `--help` is rendered from the same rows, so an option can never be known to one source only.
 */
import { parseAddress } from './address.js';
import { expandConfig } from './config/expand.js';
import { cronEntry } from './signals/cron.js';
import { tsgiError } from './errors.js';

/** Where a value came from, so an error can name the file and line. */
export interface Origin {
  source: string;
  line?: number;
}
export const COMMAND_LINE: Origin = { source: 'command line' };

type Kind = 'string' | 'int' | 'number' | 'flag' | 'address' | 'enum';

export interface OptionRow {
  name: string;
  aliases?: readonly string[];
  short?: string;
  kind: Kind;
  /** Placeholder shown in --help. */
  arg?: string;
  section: string;
  help: string;
  default?: string | number | boolean;
  repeatable?: boolean;
  min?: number;
  max?: number;
  choices?: readonly string[];
  /** Extra validation of a string value; throws an Error saying what is wrong. */
  check?: (value: string) => void;
  /**
   * Read by the config expander where it stands (a config file to load, a placeholder to
   * define), never stored in Options: see config/expand.ts.
   */
  immediate?: boolean;
}

export const OPTION_ROWS: readonly OptionRow[] = [
  { name: 'socket', short: 's', aliases: ['uwsgi-socket'], kind: 'address', arg: 'ADDR', section: 'Sockets', repeatable: true, help: 'bind a socket speaking --protocol (default uwsgi): host:port, :port, /path or @abstract' },
  { name: 'http-socket', kind: 'address', arg: 'ADDR', section: 'Sockets', repeatable: true, help: 'bind a socket speaking HTTP/1.1 (keep-alive, chunked)' },
  { name: 'fastcgi-socket', kind: 'address', arg: 'ADDR', section: 'Sockets', repeatable: true, help: 'bind a socket speaking FastCGI (responder role, FCGI_KEEP_CONN; nginx fastcgi_pass)' },
  { name: 'zmq', aliases: ['zeromq', 'mongrel2', 'zmq-socket', 'zeromq-socket'], kind: 'string', arg: 'PULL,PUB', section: 'Sockets', repeatable: true, help: 'serve Mongrel2: connect a ZeroMQ PULL socket to PULL (requests) and a PUB socket to PUB (responses), e.g. tcp://127.0.0.1:9997,tcp://127.0.0.1:9996' },
  { name: 'mongrel2-chroot', aliases: ['zmq-upload-dir'], kind: 'string', arg: 'DIR', section: 'Sockets', help: "Mongrel2's chroot: x-mongrel2-upload-done paths (upload.temp_store files) are relative to it; tsgi reads each from there and deletes it when the request ends" },
  { name: 'protocol', kind: 'enum', arg: 'NAME', section: 'Sockets', choices: ['uwsgi', 'http', 'fastcgi'], default: 'uwsgi', help: 'protocol of the --socket sockets' },
  { name: 'listen', short: 'l', kind: 'int', arg: 'N', section: 'Sockets', min: 1, max: 65535, default: 1024, help: 'listen queue (backlog) of every socket; capped by net.core.somaxconn' },
  { name: 'buffer-size', short: 'b', kind: 'int', arg: 'BYTES', section: 'Sockets', min: 512, max: 65535, default: 4096, help: 'largest uwsgi vars block accepted' },
  { name: 'max-vars', kind: 'int', arg: 'N', section: 'Sockets', min: 1, max: 32767, default: 64, help: 'a uwsgi request may carry 2 × N vars' },
  { name: 'no-defer-accept', kind: 'flag', section: 'Sockets', default: false, help: 'accept a TCP connection as soon as it is made; by default (as uWSGI) the kernel hands it over once its first bytes arrive, or after --socket-timeout of silence (connects beyond --listen that have not sent yet then go through SYN cookies)' },
  { name: 'socket-timeout', short: 'z', kind: 'number', arg: 'SECS', section: 'Sockets', min: 0.001, default: 4, help: 'drop a connection that sends a partial request and then nothing for SECS' },
  { name: 'module', short: 'w', aliases: ['wsgi'], kind: 'string', arg: 'MOD[:CALLABLE]', section: 'Application', help: 'load the app from MOD (pkg/mod, resolved from the working directory)' },
  { name: 'wsgi-file', aliases: ['file'], kind: 'string', arg: 'PATH', section: 'Application', help: 'load the app from a .js/.mjs/.cjs/.ts file (.ts needs no build step)' },
  { name: 'callable', kind: 'string', arg: 'NAME', section: 'Application', default: 'application', help: 'name of the exported app function' },
  { name: 'chdir', kind: 'string', arg: 'DIR', section: 'Application', help: 'chdir to DIR before loading the app' },
  { name: 'master', short: 'M', kind: 'flag', section: 'Processes', default: false, help: 'run a master that supervises the workers (respawn, graceful reload on SIGHUP)' },
  { name: 'processes', short: 'p', aliases: ['workers'], kind: 'int', arg: 'N', section: 'Processes', min: 1, max: 1024, default: 1, help: 'number of pre-forked worker processes' },
  { name: 'reload-mercy', aliases: ['worker-reload-mercy'], kind: 'number', arg: 'SECS', section: 'Processes', min: 0, default: 60, help: 'how long a stopping worker may take to finish its requests before it is killed' },
  { name: 'max-semi-space', kind: 'int', arg: 'MIB', section: 'Processes', min: 0, max: 1024, default: 1, help: "cap V8's young generation (semi-space) at MIB in every process that runs the app (workers, spoolers, a single process); 0: V8 grows it to 16 MiB under load. Raise it for apps that keep MiBs per request" },
  { name: 'pidfile', kind: 'string', arg: 'PATH', section: 'Processes', help: 'write the master pid to PATH (removed at shutdown)' },
  { name: 'async', kind: 'int', arg: 'N', section: 'Green runtime', min: 1, max: 1_000_000, default: 1, help: 'cores (request slots) per worker; each request runs as a green thread' },
  { name: 'ugreen', kind: 'flag', section: 'Green runtime', default: false, help: 'select the generator green-thread engine (the only one; accepted for uWSGI compatibility)' },
  { name: 'cache', aliases: ['cache-items'], kind: 'int', arg: 'N', section: 'Shared state', min: 0, max: 10_000_000, default: 0, help: 'a cache of N items (N−1 usable) shared by all workers' },
  { name: 'cache-blocksize', kind: 'int', arg: 'BYTES', section: 'Shared state', min: 1, max: 256 * 1024 * 1024, default: 65536, help: 'largest cache value' },
  { name: 'cache-store', kind: 'string', arg: 'FILE', section: 'Shared state', help: 'keep the cache in FILE so it survives restarts' },
  { name: 'cache-expire-freq', kind: 'number', arg: 'SECS', section: 'Shared state', min: 0.1, default: 3, help: 'how often the master sweeps expired cache items' },
  { name: 'queue', kind: 'int', arg: 'N', section: 'Shared state', min: 0, max: 10_000_000, default: 0, help: 'a shared queue of N slots' },
  { name: 'queue-blocksize', kind: 'int', arg: 'BYTES', section: 'Shared state', min: 32, max: 64 * 1024 * 1024, default: 8192, help: 'bytes per queue slot (16 of them are the item header)' },
  { name: 'stats', aliases: ['stats-server'], kind: 'address', arg: 'ADDR', section: 'Shared state', help: "serve the instance's stats as JSON on ADDR (TCP host:port or a unix path), as uWSGI's stats server" },
  { name: 'stats-http', kind: 'flag', section: 'Shared state', default: false, help: 'prefix the stats JSON with HTTP response headers' },
  { name: 'stats-minified', aliases: ['stats-min'], kind: 'flag', section: 'Shared state', default: false, help: 'stats JSON without indentation' },
  { name: 'spooler', kind: 'string', arg: 'DIR', section: 'Spooler', repeatable: true, help: 'run a spooler on DIR (created if missing): durable background tasks queued by uwsgi.spool() and run by uwsgi.spooler' },
  { name: 'spooler-external', kind: 'string', arg: 'DIR', section: 'Spooler', repeatable: true, help: 'uwsgi.spool() may queue into DIR, which another instance spools' },
  { name: 'spooler-processes', kind: 'int', arg: 'N', section: 'Spooler', min: 1, max: 256, default: 1, help: 'spooler processes per --spooler directory' },
  { name: 'spooler-async', kind: 'int', arg: 'N', section: 'Spooler', min: 1, max: 100_000, default: 1, help: 'tasks a spooler process runs at once, as green threads' },
  { name: 'spooler-ordered', kind: 'flag', section: 'Spooler', default: false, help: 'accepted for uWSGI compatibility: tsgi always runs the numbered priority subdirectories first, lowest first, which uWSGI does only with this flag' },
  { name: 'spooler-frequency', kind: 'number', arg: 'SECS', section: 'Spooler', min: 0.01, default: 30, help: 'how often an idle spooler rescans its directory (a task queued by this instance wakes it at once)' },
  { name: 'spooler-harakiri', kind: 'number', arg: 'SECS', section: 'Spooler', min: 0, default: 0, help: 'kill a spooler process whose task runs longer than SECS (0: never); the master respawns it and the task runs again' },
  { name: 'spooler-max-tasks', kind: 'int', arg: 'N', section: 'Spooler', min: 0, default: 0, help: 'recycle a spooler process after N tasks (0: never)' },
  { name: 'cron', kind: 'string', arg: '"MIN HOUR DAY MONTH WEEKDAY CMD"', section: 'Signals and timers', repeatable: true, check: (v) => void cronEntry(v), help: 'the master runs CMD in a shell when the time matches (-1 = any, -N = every N)' },
  { name: 'disable-logging', short: 'L', kind: 'flag', section: 'Logging', default: false, help: 'no request log lines' },
  { name: 'ini', kind: 'string', arg: 'FILE[:SECTION]', section: 'Configuration', repeatable: true, immediate: true, help: 'load the [uwsgi] section (or SECTION) of an ini file here; FILE may be - (stdin) or exec://CMD' },
  { name: 'xml', short: 'x', kind: 'string', arg: 'FILE[:ID]', section: 'Configuration', repeatable: true, immediate: true, help: 'load the <uwsgi> element (the one with id="ID") of an xml file here' },
  { name: 'yaml', short: 'y', aliases: ['yml'], kind: 'string', arg: 'FILE[:SECTION]', section: 'Configuration', repeatable: true, immediate: true, help: 'load the uwsgi: mapping (or SECTION:) of a yaml file here' },
  { name: 'json', short: 'j', aliases: ['js'], kind: 'string', arg: 'FILE[:SECTION]', section: 'Configuration', repeatable: true, immediate: true, help: 'load the "uwsgi" object (or SECTION, or the top-level object) of a json/json5 file here' },
  { name: 'sqlite3', aliases: ['sqlite'], kind: 'string', arg: 'FILE[:QUERY]', section: 'Configuration', repeatable: true, immediate: true, help: 'load the (key, value) rows of a sqlite3 database here (default query SELECT * FROM uwsgi)' },
  { name: 'include', aliases: ['config'], kind: 'string', arg: 'FILE[:SECTION]', section: 'Configuration', repeatable: true, immediate: true, help: 'load a config file by its extension (.ini .xml .yaml .yml .json .js .db); a bare argument does the same' },
  { name: 'set-placeholder', aliases: ['set-ph'], kind: 'string', arg: 'NAME=VALUE', section: 'Configuration', repeatable: true, immediate: true, help: 'define a custom variable for %(NAME) references' },
  { name: 'strict', kind: 'flag', section: 'Configuration', default: false, help: 'unknown keys in config files are errors even when %(name) uses them (declare variables with --set-placeholder)' },
  { name: 'show-config', kind: 'flag', section: 'Configuration', default: false, help: 'print the effective options as an ini file at start-up, then serve' },
  { name: 'dry-run', kind: 'flag', section: 'Configuration', default: false, help: 'check the configuration, print it as --show-config does and exit 0' },
  { name: 'version', kind: 'flag', section: 'Information', help: 'print the version and exit' },
  { name: 'help', short: 'h', aliases: ['usage'], kind: 'flag', section: 'Information', help: 'print this help and exit' },
];

/** The effective configuration, keyed by option name exactly as written on the command line. */
export interface Options {
  'socket': string[];
  'http-socket': string[];
  'zmq': string[];
  'mongrel2-chroot'?: string;
  'fastcgi-socket': string[];
  'protocol': 'uwsgi' | 'http' | 'fastcgi';
  'listen': number;
  'buffer-size': number;
  'max-vars': number;
  'no-defer-accept': boolean;
  'socket-timeout': number;
  'module'?: string;
  'wsgi-file'?: string;
  'callable': string;
  'chdir'?: string;
  'master': boolean;
  'processes': number;
  'reload-mercy': number;
  'max-semi-space': number;
  'pidfile'?: string;
  'async': number;
  'ugreen': boolean;
  'cache': number;
  'cache-blocksize': number;
  'cache-store'?: string;
  'cache-expire-freq': number;
  'queue': number;
  'queue-blocksize': number;
  'stats'?: string;
  'stats-http': boolean;
  'stats-minified': boolean;
  'spooler': string[];
  'spooler-external': string[];
  'spooler-processes': number;
  'spooler-async': number;
  'spooler-ordered': boolean;
  'spooler-frequency': number;
  'spooler-max-tasks': number;
  'spooler-harakiri': number;
  'cron': string[];
  'disable-logging': boolean;
  'strict': boolean;
  'show-config': boolean;
  'dry-run': boolean;
  'version'?: boolean;
  'help'?: boolean;
}

const byName = new Map<string, OptionRow>();
for (const row of OPTION_ROWS) {
  byName.set(row.name, row);
  for (const alias of row.aliases ?? []) byName.set(alias, row);
  if (row.short) byName.set(row.short, row);
}

export function findOption(name: string): OptionRow | undefined {
  return byName.get(name);
}

/** A fresh configuration holding every default. */
export function defaultOptions(): Options {
  const options: Record<string, unknown> = {};
  for (const row of OPTION_ROWS) {
    if (row.immediate) continue;
    if (row.repeatable) options[row.name] = [];
    else if (row.default !== undefined) options[row.name] = row.default;
  }
  return options as unknown as Options;
}

function where(origin: Origin): string {
  return origin.line === undefined ? origin.source : `${origin.source}:${origin.line}`;
}

const FLAG_WORDS = new Map([['true', true], ['yes', true], ['on', true], ['1', true], ['', true], ['false', false], ['no', false], ['off', false], ['0', false]]);

function convert(row: OptionRow, value: string | true, origin: Origin): unknown {
  const bad = (why: string) =>
    tsgiError('TSGI_ERR_OPT_VALUE', `bad value for --${row.name} (${where(origin)}): ${JSON.stringify(value)}: ${why}`);
  if (row.kind === 'flag') {
    const flag = value === true || FLAG_WORDS.get(value.trim().toLowerCase());
    if (flag === undefined) throw bad('expected true/false, yes/no, on/off or 1/0');
    return flag;
  }
  if (value === true) throw tsgiError('TSGI_ERR_OPT_MISSING_VALUE', `option --${row.name} (${where(origin)}) needs a value (${row.arg ?? 'VALUE'})`);
  switch (row.kind) {
    case 'int':
    case 'number': {
      const pattern = row.kind === 'int' ? /^[+-]?\d+$/ : /^[+-]?(\d+\.?\d*|\.\d+)$/;
      if (!pattern.test(value.trim())) throw bad(row.kind === 'int' ? 'expected a whole number' : 'expected a number');
      const n = Number(value);
      if (row.min !== undefined && n < row.min) throw bad(`must be at least ${row.min}`);
      if (row.max !== undefined && n > row.max) throw bad(`must be at most ${row.max}`);
      return n;
    }
    case 'enum':
      if (!row.choices!.includes(value)) throw bad(`expected one of ${row.choices!.join(', ')}`);
      return value;
    case 'address':
      try {
        parseAddress(value);
      } catch (error) {
        throw bad((error as Error).message);
      }
      return value;
    default:
      if (value === '') throw bad('must not be empty');
      try {
        row.check?.(value);
      } catch (error) {
        throw bad((error as Error).message);
      }
      return value;
  }
}

/** Applies one pair: scalars take the latest value, repeatable options accumulate. */
export function applyOption(options: Options, name: string, value: string | true, origin: Origin): void {
  const row = byName.get(name);
  // Short names (-s, -p) exist on the command line only, as in uWSGI: in a file `p = 4` is a variable.
  if (!row || (row.short === name && origin !== COMMAND_LINE)) throw unknownOption(name, origin);
  if (row.immediate) throw new Error(`--${row.name} is read by the config expander (config/expand.ts), not applied`);
  const converted = convert(row, value, origin);
  const target = options as unknown as Record<string, unknown>;
  if (row.repeatable) (target[row.name] as unknown[]).push(converted);
  else target[row.name] = converted;
}

function unknownOption(name: string, origin: Origin): Error {
  const suggestion = closestOption(name);
  const hint = suggestion ? ` (did you mean --${suggestion}?)` : '';
  const from = origin === COMMAND_LINE ? '' : ` in ${where(origin)}`;
  return tsgiError('TSGI_ERR_OPT_UNKNOWN', `unknown option --${name}${from}${hint}`);
}

function closestOption(name: string): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of byName.keys()) {
    if (candidate.length === 1) continue;
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) [best, bestDistance] = [byName.get(candidate)!.name, distance];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * Splits argv into pairs: `--name value`, `--name=value`, `-x value`, and flags that take no
 * value (`--master`, `-M`). A value never starts with `-` unless written as `--name=-1`. A bare
 * argument (`app.ini`) becomes an `include` marked `bare`: a config file loaded by extension.
 */
export function argvPairs(argv: readonly string[]): Array<{ name: string; value: string | true; bare?: boolean }> {
  const pairs: Array<{ name: string; value: string | true; bare?: boolean }> = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') throw tsgiError('TSGI_ERR_OPT_ARGUMENT', 'unexpected argument "--": options are written --name value');
    if (!arg.startsWith('-') || arg === '-') {
      pairs.push({ name: 'include', value: arg, bare: true });
      continue;
    }
    const long = arg.startsWith('--');
    const body = arg.slice(long ? 2 : 1);
    const eq = long ? body.indexOf('=') : -1;
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const row = byName.get(name);
    if (!row || (!long && row.short !== name)) throw unknownOption(name, COMMAND_LINE);
    if (eq >= 0) pairs.push({ name, value: body.slice(eq + 1) });
    else if (row.kind === 'flag') pairs.push({ name, value: true });
    else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('-') && next.length > 1 && !/^-\d/.test(next))) {
        throw tsgiError('TSGI_ERR_OPT_MISSING_VALUE', `option --${row.name} needs a value (${row.arg ?? 'VALUE'})`);
      }
      pairs.push({ name, value: next });
      i++;
    }
  }
  return pairs;
}

/**
 * Parses a command line into the effective options: config files it names are read where they
 * stand, placeholders expanded, then every pair is applied in order (the later value of a
 * single-valued option wins, lists accumulate).
 */
export function parseArgv(argv: readonly string[]): Options {
  const options = defaultOptions();
  const pairs = argvPairs(argv).map((pair) => ({ ...pair, name: byName.get(pair.name)?.name ?? pair.name, origin: COMMAND_LINE }));
  const findLong = (name: string) => (byName.get(name)?.short === name ? undefined : byName.get(name));
  for (const { name, value, origin } of expandConfig(pairs, findLong)) applyOption(options, name, value, origin);
  return options;
}

/** Renders `--help` from the table, one section at a time. */
export function renderHelp(): string {
  const lines = ['Usage: tsgi [options] [CONFIG_FILE …]', ''];
  const sections = [...new Set(OPTION_ROWS.map((row) => row.section))];
  for (const section of sections) {
    lines.push(`${section}:`);
    for (const row of OPTION_ROWS.filter((r) => r.section === section)) {
      const names = [row.short ? `-${row.short}` : '', `--${row.name}`, ...(row.aliases ?? []).map((a) => `--${a}`)]
        .filter(Boolean).join(', ');
      const left = `  ${names}${row.arg ? ` ${row.arg}` : ''}`;
      const extra = [row.repeatable ? 'repeatable' : '', row.default !== undefined && row.kind !== 'flag' ? `default ${row.default}` : '']
        .filter(Boolean).join(', ');
      lines.push(`${left.padEnd(40)} ${row.help}${extra ? ` (${extra})` : ''}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
