/**
 * Makes `import uwsgi from 'tsgi'` work in every app, as uWSGI embeds its `uwsgi` module:
 * also when the app's folder has no node_modules, and always as ONE instance per process.
 *
 * - An app whose project has tsgi installed (or an app inside this package, by self-reference)
 *   resolves it normally; api/mod.ts keeps its state on a global symbol, so even a second copy
 *   of the package hands out the same api object.
 * - Otherwise an ESM resolve hook maps the bare specifier 'tsgi' to this tsgi's api module.
 *   It is registered only when needed: in Node 20 a hook costs a loader thread.
 * - Likewise `require('tsgi')` from CommonJS apps.
 */
import Module, { createRequire, register } from 'node:module';
import { fileURLToPath } from 'node:url';

const API_URL = new URL('../../api/mod.js', import.meta.url);
let installed = false;

type ResolveFilename = (request: string, ...rest: unknown[]) => string;

export function makeTsgiImportable(appPath: string): void {
  if (installed) return;
  installed = true;
  try {
    createRequire(appPath).resolve('tsgi');
    return; // the app's project (or this package, by self-reference) provides it
  } catch {
    // not resolvable from the app: map it, for require() and for import
  }
  const cjs = Module as unknown as { _resolveFilename: ResolveFilename };
  const resolveFilename = cjs._resolveFilename;
  const apiPath = fileURLToPath(API_URL);
  cjs._resolveFilename = function (request: string, ...rest: unknown[]): string {
    return request === 'tsgi' ? apiPath : resolveFilename.call(this, request, ...rest);
  };
  register(new URL('./tsgi-resolve-hook.js', import.meta.url), { data: { apiUrl: API_URL.href } });
}
