/**
 * uWSGI's log encoders (`--log-encoder`, `--log-req-encoder`: `NAME[ ARGS]`, applied in the
 * order given, each to the output of the one before): `json TEMPLATE` (the line JSON-escaped
 * into `${msg}`), `format TEMPLATE` (the line as is), `prefix TEXT`, `suffix TEXT`, `nl`.
 * Template variables: `${msg}`, `${msgnl}` (with its newline), `${unix}`, `${millis}`,
 * `${micros}`, `${strftime:FORMAT}`. A template is compiled once into literal parts and
 * variable codes, so encoding a line builds one string and no closures.
 *
 * tsgi's targets are line-oriented (each line ends in one newline, or is one datagram), so `nl`
 * is accepted for uWSGI configs and adds nothing.
 */
import { SecondClock, strftime } from './strftime.js';

/** `--log-encoder json` with no template: one JSON object a line that jq and log shippers read. */
const DEFAULT_JSON = '{"unix":${unix},"msg":"${msg}"}';

const MSG = 0;
const MSGNL = 1;
const UNIX = 2;
const MILLIS = 3;
const MICROS = 4;

type Part = string | number | SecondClock;

const VARIABLES: Record<string, number> = { msg: MSG, msgnl: MSGNL, unix: UNIX, millis: MILLIS, micros: MICROS };

class Template {
  readonly #parts: Part[] = [];

  constructor(template: string, private readonly escape: boolean) {
    let last = 0;
    for (const match of template.matchAll(/\$\{([^}]+)\}/g)) {
      if (match.index > last) this.#parts.push(template.slice(last, match.index));
      this.#parts.push(variable(match[1]!));
      last = match.index + match[0].length;
    }
    if (last < template.length) this.#parts.push(template.slice(last));
  }

  encode(line: string, nowMs: number): string {
    let out = '';
    for (const part of this.#parts) {
      if (typeof part === 'string') out += part;
      else if (part instanceof SecondClock) out += part.at(nowMs);
      else if (part === MSG) out += this.escape ? jsonEscape(line) : line;
      else if (part === MSGNL) out += this.escape ? jsonEscape(`${line}\n`) : `${line}\n`;
      else if (part === UNIX) out += Math.floor(nowMs / 1000);
      else if (part === MILLIS) out += Math.floor(nowMs);
      else out += Math.floor(nowMs * 1000);
    }
    return out;
  }
}

function variable(name: string): number | SecondClock {
  if (name.startsWith('strftime:')) {
    const format = name.slice('strftime:'.length);
    return new SecondClock((date) => strftime(format, date));
  }
  const code = VARIABLES[name];
  if (code === undefined) throw new Error(`unknown encoder variable \${${name}} (known: ${Object.keys(VARIABLES).map((v) => `\${${v}}`).join(' ')} \${strftime:FORMAT})`);
  return code;
}

/** JSON.stringify of a string without its quotes: the escaping JSON needs and nothing else. */
function jsonEscape(text: string): string {
  const quoted = JSON.stringify(text);
  return quoted.slice(1, -1);
}

class Affix {
  constructor(private readonly text: string, private readonly before: boolean) {}
  encode(line: string): string {
    return this.before ? this.text + line : line + this.text;
  }
}

class Identity {
  encode(line: string): string {
    return line;
  }
}

export interface Encoder {
  encode(line: string, nowMs: number): string;
}

/** One `--log-encoder` value; throws an Error saying what is wrong (the option setter adds where). */
export function parseEncoder(value: string): Encoder {
  const space = value.indexOf(' ');
  const name = space < 0 ? value : value.slice(0, space);
  const args = space < 0 ? '' : value.slice(space + 1);
  switch (name) {
    case 'json': return new Template(args || DEFAULT_JSON, true);
    case 'format': return new Template(args || '${msg}', false);
    case 'prefix': return new Affix(args, true);
    case 'suffix': return new Affix(args, false);
    case 'nl': return new Identity();
    default:
      throw new Error(`unknown log encoder "${name}": expected json [TEMPLATE], format TEMPLATE, prefix TEXT, suffix TEXT or nl`);
  }
}

/** The chain of encoders, in order; an empty chain leaves lines alone. */
export class EncoderChain {
  readonly #encoders: Encoder[];

  constructor(values: readonly string[]) {
    this.#encoders = values.map(parseEncoder);
  }

  get empty(): boolean {
    return this.#encoders.length === 0;
  }

  encode(line: string, nowMs: number): string {
    for (const encoder of this.#encoders) line = encoder.encode(line, nowMs);
    return line;
  }
}
