/**
 * JSON: the object under `"uwsgi"` (or `file.json:section`), or the top-level object itself
 * when it has no `uwsgi` object. Values as uWSGI's core/json.c converts them: a string as is, a
 * number in decimal, `true` → "1", `false`/`null` → "0", an array → one pair per element.
 *
 * The text is read as JSON5, a superset of JSON: the seed's `{'socket':'@foobar', …}` uses
 * single quotes, which strict JSON (and uWSGI's jansson) rejects. JSON5 also allows comments,
 * unquoted keys and trailing commas; every strict JSON file reads the same as before.
 */
import type Json5 from 'json5';
import { tsgiError } from '../errors.js';
import { lazyRequire } from './lazy.js';
import type { ConfigPair, LoaderInput } from './pairs.js';

const json5 = lazyRequire<typeof Json5>('json5');

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

const isObject = (value: unknown): value is Record<string, Json> => typeof value === 'object' && value !== null && !Array.isArray(value);

export function loadJson({ text, source, section }: LoaderInput): ConfigPair[] {
  let data: Json;
  try {
    data = json5().parse(text) as Json;
  } catch (error) {
    const { lineNumber, message } = error as { lineNumber?: number; message: string };
    const hint = source.endsWith('.js') ? ' (a .js config is read as JSON, as in uWSGI; to serve a JS app use --wsgi-file)' : '';
    const why = message.replace(/^JSON5: /, '').replace(/ at \d+:\d+$/, '');
    throw tsgiError('TSGI_ERR_CONFIG_SYNTAX', `${source}${lineNumber ? `:${lineNumber}` : ''}: json syntax error: ${why}${hint}`);
  }
  if (!isObject(data)) throw tsgiError('TSGI_ERR_CONFIG_SYNTAX', `${source}:1: json syntax error: expected an object of options`);
  let path: string[] = [];
  let options: Record<string, Json> = data;
  if (section !== undefined || isObject(data.uwsgi)) {
    const name = section ?? 'uwsgi';
    if (!isObject(data[name])) throw tsgiError('TSGI_ERR_CONFIG_SECTION', `${source} has no "${name}" object; name another one as ${source}:SECTION`);
    [path, options] = [[name], data[name]];
  }
  const lines = keyLines(text, path);
  const pairs: ConfigPair[] = [];
  for (const [name, value] of Object.entries(options)) {
    const keyLine = lines.keys.get(name);
    const values = Array.isArray(value) ? value : [value];
    values.forEach((element, index) => {
      const line = (Array.isArray(value) ? lines.elements.get(name)?.[index] : undefined) ?? keyLine;
      pairs.push({ name, value: scalar(element, name, `${source}${line ? `:${line}` : ''}`), origin: { source, line } });
    });
  }
  return pairs;
}

function scalar(value: Json, name: string, at: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (value === true) return '1';
  if (value === false || value === null) return '0';
  throw tsgiError('TSGI_ERR_OPT_VALUE', `bad value for --${name} (${at}): ${Array.isArray(value) ? 'a nested array' : 'an object'}; an option holds a string, a number, a boolean or an array of them`);
}

/**
 * The lines of the keys of the object at `path` (and of the elements of its array values),
 * found by a small scan that skips strings and comments: JSON5 reports no positions, and a
 * bad value should still name its line. A repeated key keeps its last line (its value wins).
 */
function keyLines(text: string, path: readonly string[]): { keys: Map<string, number>; elements: Map<string, number[]> } {
  const keys = new Map<string, number>();
  const elements = new Map<string, number[]>();
  const stack: Array<{ array: boolean; key?: string }> = [];
  let line = 1;
  let token: { text: string; line: number } | undefined;
  let valueKey: string | undefined;
  let expectElement = false;
  const atSection = (depth: number) => stack.length === depth && path.every((key, i) => stack[i + 1]?.key === key);
  const valueStarts = () => {
    if (expectElement && atSection(path.length + 2) && stack.at(-1)!.array) {
      const key = stack.at(-1)!.key!;
      elements.set(key, [...(elements.get(key) ?? []), line]);
    }
    expectElement = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') line++;
    else if (c === '/' && text[i + 1] === '/') i = text.indexOf('\n', i) < 0 ? text.length : text.indexOf('\n', i) - 1;
    else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2) < 0 ? text.length : text.indexOf('*/', i + 2) + 1;
      for (let j = i; j < end; j++) if (text[j] === '\n') line++;
      i = end;
    } else if (c === '"' || c === "'") {
      valueStarts();
      const start = line;
      let value = '';
      for (i++; i < text.length && text[i] !== c; i++) {
        if (text[i] === '\\') i++;
        if (text[i] === '\n') line++;
        value += text[i];
      }
      token = { text: value, line: start };
    } else if (c === '{' || c === '[') {
      valueStarts();
      stack.push({ array: c === '[', key: valueKey });
      valueKey = undefined;
      expectElement = c === '[';
    } else if (c === '}' || c === ']') stack.pop();
    else if (c === ':' && token) {
      if (atSection(path.length + 1) && !stack.at(-1)!.array) keys.set(token.text, token.line);
      valueKey = token.text;
    } else if (c === ',') {
      valueKey = undefined;
      expectElement = stack.at(-1)?.array ?? false;
    } else if (/[\w$+.-]/.test(c)) {
      valueStarts();
      const start = i;
      while (i + 1 < text.length && /[\w$+.-]/.test(text[i + 1]!)) i++;
      token = { text: text.slice(start, i + 1), line };
    }
  }
  return { keys, elements };
}
