/**
 * Parser libraries are loaded on first use: a process that reads no yaml/xml/json file (every
 * worker, and a single-process server started from the command line) never carries them.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function lazyRequire<T>(name: string): () => T {
  let library: T | undefined;
  return () => (library ??= require(name) as T);
}
