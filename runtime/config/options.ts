/**
 * The Configuration rows of the option table (runtime/options.ts): the immediate ones are
 * read by expand.ts where they stand; the rest change what show.ts prints and how strictly
 * unknown keys are treated.
 */
import type { OptionRow } from '../options.js';

export const CONFIG_ROWS = [
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
] as const satisfies readonly OptionRow[];
