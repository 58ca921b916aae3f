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
  const lines = ['[uwsgi]'];
  const values = options as unknown as Record<string, unknown>;
  const defaults = defaultOptions() as unknown as Record<string, unknown>;
  const line = (name: string, value: unknown) => lines.push(`${name} = ${String(value).replace(/%/g, '%%')}`);
  for (const row of OPTION_ROWS) {
    if (NOT_SHOWN.has(row.section) || row.immediate) continue;
    const value = values[row.name];
    if (Array.isArray(value)) for (const element of value) line(row.name, element);
    else if (value !== undefined && value !== defaults[row.name]) line(row.name, value);
  }
  return `${lines.join('\n')}\n`;
}
