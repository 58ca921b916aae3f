/**
 * THE option table. Every way of configuring tsgi (argv, ini, xml, yaml, json, sqlite3, pipes:
 * see config/expand.ts) reduces to `(name, value, origin)` pairs applied through `applyOption`,
 * and `--help` is rendered from the same rows, so an option can never be known to one source only.
 * Each subsystem declares its rows in its own `options.ts` (as uWSGI plugins export theirs);
 * this file concatenates them into the one table.
 */
import { parseAddress } from './address.js';
import { expandConfig } from './config/expand.js';
import { Problems } from './config/problems.js';
import { tsgiError } from './errors.js';
import { CONFIG_ROWS } from './config/options.js';
import { DAEMON_ROWS } from './daemons/options.js';
import { CLUSTER_ROWS } from './cluster/options.js';
import { EMPEROR_ROWS } from './emperor/options.js';
import { RELOAD_ROWS } from './master/dynamic-options.js';
import { CHEAPER_CHECKS, CHEAPER_ROWS } from './master/cheaper/options.js';
import { PROCESS_ROWS } from './master/options.js';
import { HARAKIRI_ROWS } from './harakiri/options.js';
import { JAIL_ROWS } from './jail/options.js';
import { RECYCLE_CHECKS, RECYCLE_ROWS } from './master/recycle-options.js';
import { SOCKET_CHECKS, SOCKET_ROWS } from './protocols/options.js';
import { SHARED_ROWS } from './shared/options.js';
import { SIGNAL_ROWS } from './signals/options.js';
import { SPOOLER_ROWS } from './spooler/options.js';
import { STATS_ROWS } from './stats/options.js';
import { LIMIT_ROWS } from './worker/limit-options.js';
import { METRICS_ROWS } from './metrics/options.js';
import { FASTROUTER_ROWS, SUBSCRIPTION_ROWS } from './routers/options.js';
import { HTTP_ROUTER_ROWS } from './routers/http/options.js';
import { LOG_ROWS } from './logging/options.js';
import { THREAD_ROWS } from './threads/options.js';
import { APPLICATION_CHECKS, APPLICATION_ROWS, GREEN_ROWS } from './worker/options.js';
import { MOUNT_ROWS } from './apps/options.js';

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
  /** The value of a bare `--name` (uWSGI's optional argument: `--chmod-socket` alone is 666, `--log-date` alone is on). */
  whenBare?: string;
  /** Never expanded by the config expander: its `%(name)` are its own variables (`--log-format`), not placeholders. */
  verbatim?: boolean;
}

/** Rows no subsystem owns: the request log switch, and the table's own --help and --version. */
const LOGGING_ROWS = [
  { name: 'disable-logging', short: 'L', kind: 'flag', section: 'Logging', default: false, help: 'no request log lines' },
] as const satisfies readonly OptionRow[];

const INFORMATION_ROWS = [
  { name: 'version', kind: 'flag', section: 'Information', help: 'print the version and exit' },
  { name: 'help', short: 'h', aliases: ['usage'], kind: 'flag', section: 'Information', help: 'print this help and exit' },
] as const satisfies readonly OptionRow[];

/**
 * Each subsystem exports its rows beside its code; concatenated here in --help and README
 * order (a section is listed where its first row stands). A subsystem's `options.ts` declares
 * `X_ROWS = [...] as const satisfies readonly OptionRow[]`: `satisfies` checks every field,
 * `as const` keeps the names and kinds literal so `Options` below can be derived from them
 * (without it the names widen to string, which unit/option-rows.test.ts catches at build time).
 */
const ROWS = [
  ...SOCKET_ROWS,
  ...APPLICATION_ROWS,
  ...MOUNT_ROWS,
  ...PROCESS_ROWS,
  ...HARAKIRI_ROWS,
  ...RECYCLE_ROWS,
  ...LIMIT_ROWS,
  ...RELOAD_ROWS,
  ...CHEAPER_ROWS,
  ...GREEN_ROWS,
  ...THREAD_ROWS,
  ...SHARED_ROWS,
  ...STATS_ROWS,
  ...METRICS_ROWS,
  ...SPOOLER_ROWS,
  ...DAEMON_ROWS,
  ...CLUSTER_ROWS,
  ...EMPEROR_ROWS,
  ...SIGNAL_ROWS,
  ...JAIL_ROWS,
  ...FASTROUTER_ROWS,
  ...SUBSCRIPTION_ROWS,
  ...HTTP_ROUTER_ROWS,
  ...LOGGING_ROWS,
  ...LOG_ROWS,
  ...CONFIG_ROWS,
  ...INFORMATION_ROWS,
] as const satisfies readonly OptionRow[];

export const OPTION_ROWS: readonly OptionRow[] = ROWS;

/** What `convert()` turns a value of `row` into. */
type ValueOf<Row> = Row extends { kind: 'flag' } ? boolean
  : Row extends { kind: 'int' | 'number' } ? number
  : Row extends { choices: readonly (infer Choice)[] } ? Choice
  : string;

/** Immediate rows are read by the config expander and never stored. */
type StoredRow = Exclude<(typeof ROWS)[number], { immediate: true }>;

/** `defaultOptions()` starts every list empty and fills in every default, so these keys are always set. */
type AlwaysSet = Extract<StoredRow, { repeatable: true } | { default: unknown }>;

/** Spells an intersection out as one object type, so editors show Options as a plain table. */
type Flat<T> = { [K in keyof T]: T[K] };

/**
 * The effective configuration, keyed by option name exactly as written on the command line.
 * Derived from the rows, so a row and its key cannot disagree: a flag is a boolean, an int or
 * number a number, an enum one of its choices, anything else a string; a repeatable option is
 * an array, and an option with neither a default nor repeats is optional.
 */
export type Options = Flat<
  { [Row in AlwaysSet as Row['name']]: Row extends { repeatable: true } ? Array<ValueOf<Row>> : ValueOf<Row> }
  & { [Row in Exclude<StoredRow, AlwaysSet> as Row['name']]?: ValueOf<Row> }
>;

/**
 * A check across options that no single row's setter can make (nothing to listen on, no app),
 * declared by a subsystem beside the rows it relates; it throws the typed error to report.
 */
export type OptionCheck = (options: Options) => void;

/** Run in this order by read-options.ts once every pair is applied, so the first failure is reported. */
export const OPTION_CHECKS: readonly OptionCheck[] = [...SOCKET_CHECKS, ...APPLICATION_CHECKS, ...RECYCLE_CHECKS, ...CHEAPER_CHECKS];

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
  if ((value === true || value === '') && row.whenBare !== undefined) value = row.whenBare;
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
  if (row.immediate) throw tsgiError('TSGI_ERR_INTERNAL', `--${row.name} is read by the config expander (config/expand.ts), not applied`);
  const converted = convert(row, value, origin);
  originsOf(options).set(row.name, origin);
  const target = options as unknown as Record<string, unknown>;
  if (row.repeatable) (target[row.name] as unknown[]).push(converted);
  else target[row.name] = converted;
}

/** Where each option got its value, kept beside (not in) Options, so `--show-config` and equality stay plain. */
const ORIGINS = new WeakMap<Options, Map<string, Origin>>();

function originsOf(options: Options): Map<string, Origin> {
  let origins = ORIGINS.get(options);
  if (origins === undefined) ORIGINS.set(options, (origins = new Map()));
  return origins;
}

/**
 * Where `name` got its (latest) value, `app.ini:3` or `command line`, or undefined for a
 * default: cross-option checks name the file and line of both options they relate.
 */
export function optionOrigin(options: Options, name: string): string | undefined {
  const origin = ORIGINS.get(options)?.get(name);
  return origin === undefined ? undefined : where(origin);
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
        if (row.whenBare !== undefined) {
          pairs.push({ name, value: row.whenBare });
          continue;
        }
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
  // Every bad pair is reported at once (each with its file:line), not only the first.
  const problems = new Problems();
  for (const { name, value, origin } of expandConfig(pairs, findLong)) problems.collect(() => applyOption(options, name, value, origin));
  problems.throwIfAny();
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
