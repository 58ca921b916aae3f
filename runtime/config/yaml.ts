/**
 * YAML: the `uwsgi:` mapping (or `file.yaml:section`), one pair per key, a sequence for a
 * repeated option. Scalars are read with the failsafe schema, so every value stays the string
 * that was written (`processes: 4` is "4", `master: 1` is "1").
 *
 * uWSGI's own reader is line-based and takes `socket: @foobar` literally, as the seed writes it.
 * Strict YAML reserves `@` and `` ` `` and treats `%` as a directive indicator, so a plain value
 * may not start with them; the `yaml` library reports that as a recoverable BAD_SCALAR_START
 * error and still reads the scalar as written. Those errors (and only those) are ignored, so
 * the seed's file and `chdir: %dpinax` load, while every other syntax error is reported.
 */
import type * as Yaml from 'yaml';
import type { Node } from 'yaml';
import { tsgiError } from '../errors.js';
import { lazyRequire } from './lazy.js';
import type { ConfigPair, LoaderInput } from './pairs.js';

const yaml = lazyRequire<typeof Yaml>('yaml');

const UWSGI_PLAIN_START = new Set(['@', '`', '%']);

export function loadYaml({ text, source, section = 'uwsgi' }: LoaderInput): ConfigPair[] {
  const { LineCounter, isMap, isScalar, isSeq, parseDocument } = yaml();
  const lines = new LineCounter();
  const doc = parseDocument(text, { schema: 'failsafe', lineCounter: lines, uniqueKeys: false, prettyErrors: false });
  const fatal = doc.errors.find((error) => !(error.code === 'BAD_SCALAR_START' && UWSGI_PLAIN_START.has(text[error.pos[0]] ?? '')));
  if (fatal) {
    const message = fatal.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw tsgiError('TSGI_ERR_CONFIG_SYNTAX', `${source}:${lines.linePos(fatal.pos[0]).line}: yaml syntax error: ${message}`);
  }
  const lineOf = (node: Node | null | undefined) => (node?.range ? lines.linePos(node.range[0]).line : undefined);
  const root = doc.contents;
  const entry = isMap(root) ? root.items.find((item) => isScalar(item.key) && item.key.value === section) : undefined;
  if (!entry) throw tsgiError('TSGI_ERR_CONFIG_SECTION', `${source} has no "${section}:" mapping; name another one as ${source}:SECTION`);
  if (!isMap(entry.value)) throw tsgiError('TSGI_ERR_CONFIG_SYNTAX', `${source}:${lineOf(entry.key as Node)}: "${section}:" must hold a mapping of options`);
  const pairs: ConfigPair[] = [];
  for (const item of entry.value.items) {
    const key = item.key as Node | null;
    if (!isScalar(key)) throw tsgiError('TSGI_ERR_CONFIG_SYNTAX', `${source}:${lineOf(key)}: yaml syntax error: an option name must be a plain key`);
    const name = String(key.value);
    const value = item.value as Node | null;
    const values = isSeq(value) ? (value.items as Node[]) : [value];
    for (const element of values) {
      const line = lineOf(element) ?? lineOf(key)!;
      if (element !== null && !isScalar(element)) {
        throw tsgiError('TSGI_ERR_OPT_VALUE', `bad value for --${name} (${source}:${line}): a ${isMap(element) ? 'mapping' : 'nested list'}; an option holds a value or a list of values`);
      }
      pairs.push({ name, value: element === null ? '' : String(element.value ?? ''), origin: { source, line } });
    }
  }
  return pairs;
}
