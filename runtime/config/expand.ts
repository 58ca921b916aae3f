/**
 * Turns the command line and every config file it names into one ordered list of
 * `(name, value, origin)` pairs, as uWSGI builds its exported options:
 *
 * 1. Pairs are taken in order. A config-file option (`--ini`, `--xml`, …, `include`, or a bare
 *    `app.ini`) is immediate: the file is read at once and its pairs are inserted where the
 *    option stands, depth-first, so later pairs override it and it overrides earlier ones.
 *    Magic variables (`%d`, `%n`, …) are substituted in each value as its file is read.
 * 2. When the list is complete, `$(VAR)` and `%(name)` are expanded in every value.
 * 3. Unknown keys from files that some `%(name)` uses were custom variables and are dropped;
 *    any other unknown key stays, so the option table rejects it with its file and line.
 *
 * Nothing is applied here: options.ts applies the result through the option table. This module
 * imports only types from options.ts (the table is passed in), so there is no import cycle.
 */
import { extname } from 'node:path';
import { tsgiError } from '../errors.js';
import type { OptionRow, Origin } from '../options.js';
import { loadIni } from './ini.js';
import { loadJson } from './json.js';
import { expandMagic, expandReferences, type MagicContext } from './magic.js';
import type { Loader } from './pairs.js';
import { isPipe, readSource, splitSuffix } from './source.js';
import { loadSqlite } from './sqlite.js';
import { loadXml } from './xml.js';
import { loadYaml } from './yaml.js';

type Format = 'ini' | 'xml' | 'yaml' | 'json' | 'sqlite3';

const LOADERS: Record<Format, Loader> = { ini: loadIni, xml: loadXml, yaml: loadYaml, json: loadJson, sqlite3: loadSqlite };

/** Extensions a bare argument or `include` is loaded by (uWSGI's, plus sqlite databases). */
export const CONFIG_EXTENSIONS: Readonly<Record<string, Format>> = {
  '.ini': 'ini', '.xml': 'xml', '.yaml': 'yaml', '.yml': 'yaml', '.json': 'json', '.js': 'json',
  '.db': 'sqlite3', '.sqlite': 'sqlite3', '.sqlite3': 'sqlite3',
};

/** One pair as given: from the command line (argvPairs) or a file. */
export interface InputPair {
  name: string;
  value: string | true;
  origin: Origin;
  /** A bare command-line argument, to be loaded by its extension. */
  bare?: boolean;
}

interface Entry extends InputPair {
  row?: OptionRow;
  /** Read from a config file (unknown keys there may be custom variables). */
  fromFile: boolean;
  /** Defined by set-placeholder: a variable, never an option. */
  placeholder?: boolean;
}

const FALSE_WORDS = new Set(['false', 'off', 'no', '0']);

export function where(origin: Origin): string {
  return origin.line === undefined ? origin.source : `${origin.source}:${origin.line}`;
}

const describe = (entry: { name: string; origin: Origin }) => `${where(entry.origin)} (--${entry.name})`;

/**
 * Expands `pairs` (the command line, in order) into the list to apply. `findOption` is the
 * option table's lookup by name, alias or short name.
 */
export function expandConfig(pairs: readonly InputPair[], findOption: (name: string) => OptionRow | undefined): InputPair[] {
  const expander = new Expander(findOption);
  for (const pair of pairs) expander.add(pair, undefined);
  return expander.finish();
}

class Expander {
  readonly #entries: Entry[] = [];
  /** Files being read (their loop keys), outermost first. */
  readonly #reading: Array<{ key: string; display: string }> = [];
  readonly #referenced = new Set<string>();
  #first: MagicContext | undefined;
  #lastIni: string | undefined;

  constructor(readonly find: (name: string) => OptionRow | undefined) {}

  add(pair: InputPair, file: MagicContext | undefined): void {
    if (pair.bare) return this.#load('include', String(pair.value), pair, file, true);
    const row = this.find(pair.name);
    if (row?.immediate && typeof pair.value === 'string') return this.#immediate(row, pair.value, pair, file);
    this.#entries.push({ ...pair, name: row?.name ?? pair.name, row, fromFile: file !== undefined });
  }

  #immediate(row: OptionRow, raw: string, pair: InputPair, file: MagicContext | undefined): void {
    const at = describe({ name: row.name, origin: pair.origin });
    if (raw === '') throw tsgiError('TSGI_ERR_OPT_MISSING_VALUE', `option --${row.name} (${where(pair.origin)}) needs a value (${row.arg ?? 'VALUE'})`);
    // Only what is defined so far can be used here: the file must be read now.
    const value = expandReferences(raw, (name) => this.#lookup(name), at);
    if (row.name !== 'set-placeholder') return this.#load(row.name as Format | 'include', value, pair, file, false);
    const eq = value.indexOf('=');
    const name = value.slice(0, Math.max(eq, 0)).trim();
    if (eq <= 0 || name === '') throw tsgiError('TSGI_ERR_OPT_VALUE', `bad value for --set-placeholder (${where(pair.origin)}): ${JSON.stringify(value)}: expected NAME=VALUE`);
    if (this.find(name)) throw tsgiError('TSGI_ERR_OPT_VALUE', `bad value for --set-placeholder (${where(pair.origin)}): ${name} is an option; %(${name}) already refers to it`);
    this.#entries.push({ name, value: value.slice(eq + 1), origin: pair.origin, fromFile: file !== undefined, placeholder: true });
  }

  /** Reads one config source and inserts its pairs here, depth-first. */
  #load(kind: Format | 'include', spec: string, pair: InputPair, parent: MagicContext | undefined, bare: boolean): void {
    const baseDir = parent?.dir ?? process.cwd();
    const format = kind === 'include' ? this.#formatOf(spec, baseDir, pair, bare) : kind;
    if (format === 'ini' && spec.startsWith(':')) {
      if (this.#lastIni === undefined) throw tsgiError('TSGI_ERR_OPT_VALUE', `bad value for --ini (${where(pair.origin)}): ${JSON.stringify(spec)}: no ini file was read before`);
      spec = this.#lastIni + spec;
    }
    const { spec: target, suffix } = splitSuffix(spec, baseDir, format === 'sqlite3');
    const source = readSource(target, baseDir, parent ? where(pair.origin) : undefined);
    const key = `${source.key}:${suffix ?? ''}`;
    if (this.#reading.some((file) => file.key === key)) {
      const chain = [...this.#reading.map((file) => file.display), source.display].join(' → ');
      throw tsgiError('TSGI_ERR_CONFIG_INCLUDE_LOOP', `include loop: ${chain} (at ${where(pair.origin)}, --${kind})`);
    }
    const text = source.bytes.toString('utf8').replace(/^\uFEFF/, '');
    const pairs = LOADERS[format]({ text, bytes: source.bytes, source: source.display, section: suffix });
    const file: MagicContext = { path: source.path, given: spec, section: suffix ?? '', dir: source.dir };
    this.#first ??= file;
    if (format === 'ini' && !isPipe(target)) this.#lastIni = source.path;
    this.#reading.push({ key, display: source.display });
    for (const found of pairs) {
      const value = expandMagic(found.value, file, this.#first, describe(found));
      this.add({ name: found.name, value, origin: found.origin }, file);
    }
    this.#reading.pop();
  }

  #formatOf(spec: string, baseDir: string, pair: InputPair, bare: boolean): Format {
    const format = CONFIG_EXTENSIONS[extname(splitSuffix(spec, baseDir).spec).toLowerCase()];
    if (format) return format;
    const known = Object.keys(CONFIG_EXTENSIONS).join(', ');
    if (bare) throw tsgiError('TSGI_ERR_OPT_ARGUMENT', `unexpected argument ${JSON.stringify(spec)}: not an option (--name value) nor a config file (${known})`);
    throw tsgiError('TSGI_ERR_OPT_VALUE', `bad value for --include (${where(pair.origin)}): ${JSON.stringify(spec)}: unknown config format (extensions: ${known}); use --ini, --xml, --yaml, --json or --sqlite3`);
  }

  /**
   * The raw value `%(name)` refers to. For an option: its effective value (the last pair of a
   * single-valued option, as it wins; the first of a list, as uWSGI) or its default. For a
   * custom variable: its last definition.
   */
  #lookup(name: string): string | undefined {
    const row = this.find(name);
    if (!row) this.#referenced.add(name);
    const matching = this.#entries.filter((entry) => (row ? entry.row === row : !entry.row && entry.name === name));
    const entry = row?.repeatable ? matching[0] : matching.at(-1);
    if (entry) return entry.value === true ? 'true' : entry.value;
    return row?.default === undefined ? undefined : String(row.default);
  }

  finish(): InputPair[] {
    for (const entry of this.#entries) {
      if (entry.row && !entry.row.verbatim && typeof entry.value === 'string') entry.value = expandReferences(entry.value, (name) => this.#lookup(name), describe(entry));
    }
    const strictEntry = this.#entries.filter((entry) => entry.row?.name === 'strict').at(-1);
    const strict = strictEntry !== undefined && (strictEntry.value === true || !FALSE_WORDS.has(strictEntry.value.toLowerCase()));
    // A custom variable that nothing uses is most likely a misspelt option: let the table say so.
    const keep = (entry: Entry) => entry.row !== undefined || (!entry.placeholder && (strict || !entry.fromFile || !this.#referenced.has(entry.name)));
    return this.#entries.filter(keep).map(({ name, value, origin }) => ({ name, value, origin }));
  }
}
