/**
 * What every loader returns: `(name, value, origin)` pairs, in file order, for the expander to
 * insert into the one list the option table applies. A loader never applies anything itself.
 */
import type { Origin } from '../options.js';

export interface ConfigPair {
  name: string;
  value: string;
  origin: Origin;
}

export interface LoaderInput {
  /** The bytes as UTF-8, without a byte-order mark. */
  text: string;
  /** The raw bytes (sqlite3 reads these). */
  bytes: Buffer;
  /** How messages name the file: `app.ini`, `stdin`, `exec://…`. */
  source: string;
  /** The section, id or query after `:`, when one was given. */
  section?: string;
}

export type Loader = (input: LoaderInput) => ConfigPair[];

/** The 1-based line of a character offset. */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}
