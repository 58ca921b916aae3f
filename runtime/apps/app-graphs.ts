/**
 * "Multiple interpreters" in Node: one module graph per app in one process. App N > 0 is
 * imported as `file?tsgi-app=N` and app-graph-hook.ts carries the query down to every module
 * it imports, so two apps (even the same file mounted twice) never share top-level state.
 * App 0 keeps the plain URL, the one a single-app instance uses.
 *
 * Why loader queries, not `vm` contexts or worker threads: the graphs cost only their own
 * module evaluation, at load time; requests are plain calls on the worker's own cores (a
 * worker thread per app would copy every request and response across threads, and `vm`
 * modules need --experimental-vm-modules and break `instanceof` between the app and tsgi).
 * What they do not separate: `globalThis` and built-ins (one realm), and CommonJS modules
 * (Node's require cache is keyed by file name).
 */
import { register } from 'node:module';

let hooked = false;

/** The query that makes app `id`'s import a graph of its own ('' for app 0). */
export function appGraphQuery(id: number): string {
  if (id === 0) return '';
  if (!hooked) {
    hooked = true;
    const dist = new URL('../../', import.meta.url);
    const shared = ['api/', 'runtime/', 'green/'].map((dir) => new URL(dir, dist).href);
    register(new URL('./app-graph-hook.js', import.meta.url), { data: { shared } });
  }
  return `?tsgi-app=${id}`;
}
