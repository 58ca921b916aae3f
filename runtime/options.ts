/**
 * THE option table. Every way of configuring tsgi (argv now, config files later) reduces to
 * `(name, value, origin)` pairs applied through `applyOption`, and `--help` is rendered from
 * the same rows, so an option can never be known to one source only.
 */
import { parseAddress } from './address.js';
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
}

export const OPTION_ROWS: readonly OptionRow[] = [
  { name: 'socket', short: 's', aliases: ['uwsgi-socket'], kind: 'address', arg: 'ADDR', section: 'Sockets', repeatable: true, help: 'bind a socket speaking --protocol (default uwsgi): host:port, :port, /path or @abstract' },
  { name: 'http-socket', kind: 'address', arg: 'ADDR', section: 'Sockets', repeatable: true, help: 'bind a socket speaking HTTP/1.1 (keep-alive, chunked)' },
  { name: 'protocol', kind: 'enum', arg: 'NAME', section: 'Sockets', choices: ['uwsgi', 'http'], default: 'uwsgi', help: 'protocol of the --socket sockets' },
  { name: 'listen', short: 'l', kind: 'int', arg: 'N', section: 'Sockets', min: 1, max: 65535, default: 1024, help: 'listen queue (backlog) of every socket; capped by net.core.somaxconn' },
  { name: 'buffer-size', short: 'b', kind: 'int', arg: 'BYTES', section: 'Sockets', min: 512, max: 65535, default: 4096, help: 'largest uwsgi vars block accepted' },
  { name: 'max-vars', kind: 'int', arg: 'N', section: 'Sockets', min: 1, max: 32767, default: 64, help: 'a uwsgi request may carry 2 × N vars' },
  { name: 'socket-timeout', short: 'z', kind: 'number', arg: 'SECS', section: 'Sockets', min: 0.001, default: 4, help: 'drop a connection that sends a partial request and then nothing for SECS' },
  { name: 'module', short: 'w', aliases: ['wsgi'], kind: 'string', arg: 'MOD[:CALLABLE]', section: 'Application', help: 'load the app from MOD (pkg/mod, resolved from the working directory)' },
  { name: 'wsgi-file', aliases: ['file'], kind: 'string', arg: 'PATH', section: 'Application', help: 'load the app from a .js/.mjs/.cjs/.ts file (.ts needs no build step)' },
  { name: 'callable', kind: 'string', arg: 'NAME', section: 'Application', default: 'application', help: 'name of the exported app function' },
  { name: 'chdir', kind: 'string', arg: 'DIR', section: 'Application', help: 'chdir to DIR before loading the app' },
  { name: 'master', short: 'M', kind: 'flag', section: 'Processes', default: false, help: 'run a master that supervises the workers (respawn, graceful reload on SIGHUP)' },
  { name: 'processes', short: 'p', aliases: ['workers'], kind: 'int', arg: 'N', section: 'Processes', min: 1, max: 1024, default: 1, help: 'number of pre-forked worker processes' },
  { name: 'reload-mercy', aliases: ['worker-reload-mercy'], kind: 'number', arg: 'SECS', section: 'Processes', min: 0, default: 60, help: 'how long a stopping worker may take to finish its requests before it is killed' },
  { name: 'pidfile', kind: 'string', arg: 'PATH', section: 'Processes', help: 'write the master pid to PATH (removed at shutdown)' },
  { name: 'async', kind: 'int', arg: 'N', section: 'Green runtime', min: 1, max: 1_000_000, default: 1, help: 'cores (request slots) per worker; each request runs as a green thread' },
  { name: 'ugreen', kind: 'flag', section: 'Green runtime', default: false, help: 'select the generator green-thread engine (the only one; accepted for uWSGI compatibility)' },
  { name: 'disable-logging', short: 'L', kind: 'flag', section: 'Logging', default: false, help: 'no request log lines' },
  { name: 'version', kind: 'flag', section: 'Information', help: 'print the version and exit' },
  { name: 'help', short: 'h', aliases: ['usage'], kind: 'flag', section: 'Information', help: 'print this help and exit' },
];

/** The effective configuration, keyed by option name exactly as written on the command line. */
export interface Options {
  'socket': string[];
  'http-socket': string[];
  'protocol': 'uwsgi' | 'http';
  'listen': number;
  'buffer-size': number;
  'max-vars': number;
  'socket-timeout': number;
  'module'?: string;
  'wsgi-file'?: string;
  'callable': string;
  'chdir'?: string;
  'master': boolean;
  'processes': number;
  'reload-mercy': number;
  'pidfile'?: string;
  'async': number;
  'ugreen': boolean;
  'disable-logging': boolean;
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
    if (row.repeatable) options[row.name] = [];
    else if (row.default !== undefined) options[row.name] = row.default;
  }
  return options as unknown as Options;
}

function where(origin: Origin): string {
  return origin.line === undefined ? origin.source : `${origin.source}:${origin.line}`;
}

const FALSE_WORDS = new Set(['false', 'off', 'no', '0']);

function convert(row: OptionRow, value: string | true, origin: Origin): unknown {
  const bad = (why: string) =>
    tsgiError('TSGI_ERR_OPT_VALUE', `bad value for --${row.name} (${where(origin)}): ${JSON.stringify(value)}: ${why}`);
  if (row.kind === 'flag') return value === true || !FALSE_WORDS.has(value.toLowerCase());
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
      return value;
  }
}

/** Applies one pair: scalars take the latest value, repeatable options accumulate. */
export function applyOption(options: Options, name: string, value: string | true, origin: Origin): void {
  const row = byName.get(name);
  if (!row) throw unknownOption(name, origin);
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
 * value (`--master`, `-M`). A value never starts with `-` unless written as `--name=-1`.
 */
export function argvPairs(argv: readonly string[]): Array<{ name: string; value: string | true }> {
  const pairs: Array<{ name: string; value: string | true }> = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-') || arg === '-' || arg === '--') {
      throw tsgiError('TSGI_ERR_OPT_ARGUMENT', `unexpected argument ${JSON.stringify(arg)}: options are written --name value`);
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

/** Parses a command line into the effective options. */
export function parseArgv(argv: readonly string[]): Options {
  const options = defaultOptions();
  for (const { name, value } of argvPairs(argv)) applyOption(options, name, value, COMMAND_LINE);
  return options;
}

/** Renders `--help` from the table, one section at a time. */
export function renderHelp(): string {
  const lines = ['Usage: tsgi [options]', ''];
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
