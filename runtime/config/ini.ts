/**
 * INI as uWSGI reads it (core/ini.c): `[section]` headers, `key = value` split at the first
 * `=`, both sides trimmed, `;` or `#` comments only at the start of a line, no quoting, no
 * escapes, no continuation lines. Keys repeat (each line is one more pair), and a line without
 * `=` is the key with an empty value, which turns a flag on. A line without `=` that holds a
 * space (`module myapp`) cannot be a flag: it is a forgotten `=`, reported as one (uWSGI would
 * call it an unknown option "module myapp"). Every syntax error of a file is reported at once.
 */
import { tsgiError } from '../errors.js';
import type { ConfigPair, LoaderInput } from './pairs.js';
import { Problems } from './problems.js';

const TRIM = /^[ \t\r]+|[ \t\r]+$/g;

export function loadIni({ text, source, section = 'uwsgi' }: LoaderInput): ConfigPair[] {
  const pairs: ConfigPair[] = [];
  const problems = new Problems();
  const syntax = (message: string) => problems.add(tsgiError('TSGI_ERR_CONFIG_SYNTAX', message));
  const sections = new Set<string>();
  let current = '';
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(TRIM, '');
    const at = `${source}:${index + 1}`;
    if (line === '' || line.startsWith(';') || line.startsWith('#')) return;
    if (line.startsWith('[')) {
      if (!line.endsWith(']')) return syntax(`${at}: ini syntax error: section header without a closing "]": ${line}`);
      current = line.slice(1, -1).trim();
      sections.add(current);
      return;
    }
    if (current !== section) return;
    const eq = line.indexOf('=');
    const name = (eq < 0 ? line : line.slice(0, eq)).replace(TRIM, '');
    if (name === '') return syntax(`${at}: ini syntax error: "${line}" has no option name before "="`);
    if (eq < 0 && /\s/.test(name)) {
      const [key, value] = [name.split(/\s/, 1)[0]!, name.replace(/^\S+\s+/, '')];
      return syntax(`${at}: expected key = value, got "${line}" (write it as "${key} = ${value}")`);
    }
    pairs.push({ name, value: eq < 0 ? '' : line.slice(eq + 1).replace(TRIM, ''), origin: { source, line: index + 1 } });
  });
  problems.throwIfAny();
  if (!sections.has(section)) {
    const found = sections.size ? `sections found: ${[...sections].map((s) => `[${s}]`).join(' ')}` : 'it has no sections';
    throw tsgiError('TSGI_ERR_CONFIG_SECTION', `${source} has no [${section}] section (${found}); name another one as ${source}:SECTION`);
  }
  return pairs;
}
