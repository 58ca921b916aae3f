/**
 * `--show-config` / `--dry-run`: the effective options as an ini file, in table order, one
 * line per value that differs from its default and one line per element of a list. Loading the
 * output back (`tsgi --ini shown.ini`) gives the same configuration: `%` is written `%%` so no
 * value is read as a magic variable, and the Configuration options (files, placeholders,
 * show-config itself) are not printed, since their effect is already in the values.
 */
import { OPTION_ROWS, defaultOptions, type Options } from '../options.js';

const NOT_SHOWN = new Set(['Configuration', 'Information']);

export function renderIni(options: Options): string {
  const lines = ['[uwsgi]', ...optionPairs(options).map(([name, value]) => `${name} = ${value.replace(/%/g, '%%')}`)];
  return `${lines.join('\n')}\n`;
}

/**
 * The effective options as name/value pairs, in table order: one pair per value that differs
 * from its default, one per element of a list; a set flag reads `trueAs` (uWSGI sends "1" to a
 * cluster node that asks for its options).
 */
export function optionPairs(options: Options, trueAs = 'true'): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  const values = options as unknown as Record<string, unknown>;
  const defaults = defaultOptions() as unknown as Record<string, unknown>;
  const pair = (name: string, value: unknown) => pairs.push([name, value === true ? trueAs : String(value)]);
  for (const row of OPTION_ROWS) {
    if (NOT_SHOWN.has(row.section) || row.immediate) continue;
    const value = values[row.name];
    if (Array.isArray(value)) for (const element of value) pair(row.name, element);
    else if (value !== undefined && value !== defaults[row.name]) pair(row.name, value);
  }
  return pairs;
}
