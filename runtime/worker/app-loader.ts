/**
 * Finds and imports the application: `--module pkg/mod[:callable]` resolved from the working
 * directory, or `--wsgi-file PATH` (.js/.mjs/.cjs, and .ts/.mts/.cts through tsx, no build step).
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { App } from './core.js';
import { tsgiError } from '../errors.js';
import type { Options } from '../options.js';
import { makeTsgiImportable } from './tsgi-resolver.js';

const EXTENSIONS = ['', '.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'];
const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);

export interface LoadedApp {
  app: App;
  /** What the logs call it: `myapp:application`. */
  label: string;
  path: string;
}

/** Splits `mod:callable`; the callable option applies when the spec names none. */
export function splitSpec(spec: string, callable: string): [string, string] {
  const colon = spec.lastIndexOf(':');
  return colon > 0 ? [spec.slice(0, colon), spec.slice(colon + 1)] : [spec, callable];
}

export function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/** The file a module name refers to, trying uWSGI's dotted form and package resolution too. */
export function resolveModule(name: string, cwd: string): string {
  const tried: string[] = [];
  const bases = [name];
  if (!name.includes('/') && name.includes('.') && !EXTENSIONS.includes(extname(name))) bases.push(name.replace(/\./g, '/'));
  for (const base of bases) {
    for (const candidate of [...EXTENSIONS.map((ext) => resolve(cwd, base + ext)), ...EXTENSIONS.slice(1).map((ext) => resolve(cwd, base, `index${ext}`))]) {
      tried.push(candidate);
      if (isFile(candidate)) return candidate;
    }
  }
  try {
    return createRequire(resolve(cwd, 'noop.js')).resolve(name);
  } catch {
    throw tsgiError('TSGI_ERR_APP_NOT_FOUND', `cannot find module ${JSON.stringify(name)} from ${cwd} (tried ${tried.slice(0, 4).join(', ')}, … and node_modules)`);
  }
}

/** `query` (`?tsgi-app=N`) makes the import a module instance of its own: see runtime/apps/app-graphs.ts. */
async function importFile(path: string, query = ''): Promise<Record<string, unknown>> {
  const url = pathToFileURL(path).href + query;
  if (!TYPESCRIPT.has(extname(path))) return (await import(url)) as Record<string, unknown>;
  const { tsImport } = await import('tsx/esm/api');
  return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
}

function pickCallable(namespace: Record<string, unknown>, callable: string, label: string): App {
  let candidate = namespace[callable];
  // CommonJS `module.exports = { application }` or `module.exports = fn` arrive as the default.
  const fallback = namespace.default as Record<string, unknown> | undefined;
  if (typeof candidate !== 'function' && fallback != null) {
    candidate = fallback[callable] ?? (callable === 'application' ? fallback : undefined);
  }
  if (typeof candidate !== 'function') {
    const exported = Object.keys(namespace).filter((key) => key !== 'default');
    throw tsgiError('TSGI_ERR_APP_NO_CALLABLE', `${label}: no callable ${JSON.stringify(callable)} (exports: ${exported.join(', ') || 'none'})`);
  }
  return candidate as App;
}

/** Loads the configured app; throws a TsgiError (with the app's own error as `cause`). */
export async function loadApp(options: Options): Promise<LoadedApp> {
  const cwd = process.cwd();
  let path: string;
  let callable: string;
  let label: string;
  if (options['wsgi-file'] !== undefined) {
    path = resolve(cwd, options['wsgi-file']);
    callable = options.callable;
    if (!isFile(path)) throw tsgiError('TSGI_ERR_APP_NOT_FOUND', `--wsgi-file ${path} does not exist`);
    label = `${options['wsgi-file']}:${callable}`;
  } else if (options.module !== undefined) {
    const [name, named] = splitSpec(options.module, options.callable);
    path = resolveModule(name, cwd);
    callable = named;
    label = `${name}:${callable}`;
  } else {
    throw tsgiError('TSGI_ERR_NO_APP', 'no app: give --module NAME or --wsgi-file PATH');
  }
  return importApp(path, callable, label);
}

/** Imports `path` and picks its callable; throws TSGI_ERR_APP_LOAD / TSGI_ERR_APP_NO_CALLABLE. */
export async function importApp(path: string, callable: string, label: string, query = ''): Promise<LoadedApp> {
  makeTsgiImportable(path);
  let namespace: Record<string, unknown>;
  try {
    namespace = await importFile(path, query);
  } catch (cause) {
    throw tsgiError('TSGI_ERR_APP_LOAD', `importing ${path} failed`, { cause });
  }
  return { app: pickCallable(namespace, callable, label), label, path };
}
