/**
 * uWSGI's magic variables: `%` and one character, substituted in every value read from a config
 * file as it is read (`%d` the file's directory with a trailing `/`, `%n` its name without the
 * extension, `%p` its absolute path, …; the table is in uWSGI's docs, `Configuration.rst`, "Magic variables"). `%(` is
 * left alone for the placeholder pass. Unlike uWSGI, an unknown `%z` is an error rather than a
 * silent empty string, so a typo cannot turn a path into a different one.
 */
import { readFileSync, statSync } from 'node:fs';
import { cpus, hostname, userInfo } from 'node:os';
import { basename, extname } from 'node:path';
import { tsgiError } from '../errors.js';

export interface MagicContext {
  /** Absolute path of the config file; undefined for stdin, commands and fds. */
  path?: string;
  /** The spec as written, e.g. `app.ini:dev` (%o). */
  given: string;
  /** The section, id or query asked for after `:` (%x), or "". */
  section: string;
  /** The file's directory; for a pipe, the including file's or the working directory. */
  dir: string;
}

let tsgiVersion: string | undefined;
function version(): string {
  const url = new URL('../../../package.json', import.meta.url);
  return (tsgiVersion ??= (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version);
}

/** A variable of one config file, or undefined when the letter is not a file variable. */
function fileVariable(letter: string, ctx: MagicContext, where: string): string | undefined {
  const needsPath = (): string => {
    if (ctx.path === undefined) throw tsgiError('TSGI_ERR_CONFIG_PLACEHOLDER', `%${letter} in ${where} needs a config file, but ${ctx.given} is not one`);
    return ctx.path;
  };
  switch (letter) {
    case 'o': return ctx.given;
    case 'x': return ctx.section;
    case 'd': return ctx.dir.endsWith('/') ? ctx.dir : `${ctx.dir}/`;
    case 'c': return basename(ctx.dir);
    case 'p': return needsPath();
    case 's': return basename(needsPath());
    case 'e': return extname(needsPath()).slice(1);
    case 'n': return basename(needsPath(), extname(needsPath()));
    case 'i': return String(statSync(needsPath()).ino);
  }
  if (letter >= '0' && letter <= '9') return ctx.dir.split('/').filter(Boolean)[Number(letter)] ?? '';
  return undefined;
}

function systemVariable(letter: string): string | undefined {
  switch (letter) {
    case '%': return '%';
    case 'v': return process.cwd();
    case 'h': return hostname();
    case 'k': return String(cpus().length);
    case 'u': return String(process.getuid?.() ?? '');
    case 'U': return userInfo().username;
    case 'g': return String(process.getgid?.() ?? '');
    case 't': return String(Math.floor(Date.now() / 1000));
    case 'T': return String(Date.now() * 1000);
    case 'V': return version();
    case 'b': return process.argv[1] ?? process.execPath;
    case '[': return '\x1b';
  }
  return undefined;
}

const FIRST_FILE = new Set(['O', 'D', 'S', 'P', 'C', 'E', 'N', 'X', 'I']);

/**
 * Substitutes the magic variables of `value`. `first` is the first config file of the command
 * line (the upper-case letters); `where` names the file, line and option for errors.
 */
export function expandMagic(value: string, ctx: MagicContext, first: MagicContext, where: string): string {
  if (!value.includes('%')) return value;
  return value.replace(/%(.)/gs, (match, letter: string) => {
    if (letter === '(') return match;
    const found = FIRST_FILE.has(letter)
      ? fileVariable(letter.toLowerCase(), first, where)
      : fileVariable(letter, ctx, where) ?? systemVariable(letter);
    if (found === undefined) {
      throw tsgiError('TSGI_ERR_CONFIG_PLACEHOLDER', `unknown magic variable %${letter} in ${where} (write %% for a literal %)`);
    }
    return found;
  });
}

/** Finds the raw value a `%(name)` refers to (undefined: nothing by that name). */
export type PlaceholderLookup = (name: string) => string | undefined;

const REFERENCE = /([$%])\(([^()]*)\)/g;

/**
 * Expands `$(VAR)` (environment) and `%(name)` (another option or a custom variable, itself
 * expanded). Inner references go first, so `%($(ENV))` works. `%(a + b * 2)` (with spaces) is
 * uWSGI's left-to-right integer pipeline. An unset variable, an undefined name or a loop is an
 * error that names it: uWSGI would leave the text as is and bind, say, a socket called
 * "%(port)".
 */
export function expandReferences(value: string, lookup: PlaceholderLookup, where: string, stack: readonly string[] = []): string {
  let current = value;
  for (let round = 0; round < 16; round++) {
    const next = current.replace(REFERENCE, (_match, sigil: string, body: string) => (sigil === '$' ? environment(body, where) : resolve(body)));
    if (next === current) return current;
    current = next;
  }
  throw tsgiError('TSGI_ERR_CONFIG_PLACEHOLDER', `placeholders in ${where} keep expanding into new ones: ${JSON.stringify(value)}`);
  function resolve(body: string): string {
    const named = (name: string): string => {
      if (stack.includes(name)) throw tsgiError('TSGI_ERR_CONFIG_PLACEHOLDER', `placeholder loop in ${where}: ${[...stack, name].map((n) => `%(${n})`).join(' → ')}`);
      const raw = lookup(name);
      if (raw === undefined) throw tsgiError('TSGI_ERR_CONFIG_PLACEHOLDER', `undefined placeholder %(${name}) in ${where} (define it with set-placeholder = ${name}=VALUE, or as ${name} = VALUE in a config file)`);
      return expandReferences(raw, lookup, where, [...stack, name]);
    };
    return body.includes(' ') ? pipeline(body, named) : named(body);
  }
}

function environment(name: string, where: string): string {
  const value = process.env[name];
  if (value === undefined) throw tsgiError('TSGI_ERR_CONFIG_PLACEHOLDER', `undefined environment variable $(${name}) in ${where}`);
  return value;
}

/** `%(foo + 2 * 3)`: tokens left to right, no precedence; two operands in a row concatenate. */
function pipeline(expression: string, named: (name: string) => string): string {
  let result: string | undefined;
  let operator: string | undefined;
  const int = (text: string | undefined) => Number.parseInt(text ?? '0', 10) || 0;
  for (const token of expression.split(' ').filter(Boolean)) {
    if (token === '+' || token === '-' || token === '*' || token === '/') {
      operator = token;
      continue;
    }
    if (token === '++' || token === '--') {
      result = String(int(result) + (token === '++' ? 1 : -1));
      continue;
    }
    const operand = /^-?\d+$/.test(token) ? token : named(token);
    if (result === undefined) result = operand;
    else if (operator === undefined) result += operand;
    else {
      const [a, b] = [int(result), int(operand)];
      result = String(operator === '+' ? a + b : operator === '-' ? a - b : operator === '*' ? a * b : b === 0 ? 0 : Math.trunc(a / b));
    }
    operator = undefined;
  }
  return result ?? '';
}
