/**
 * ESM resolve hook (runs on Node's loader thread): a module imported by an app loaded as
 * `…?tsgi-app=N` resolves to `…?tsgi-app=N` too, so every app has its own module graph (its own
 * copies of its files and of the packages it imports) in one process. Node keys module
 * instances by URL, query included. tsgi's own modules (the `uwsgi` api and the runtime behind
 * it) stay one per process: they hold the worker's state.
 */
interface ResolveContext {
  conditions: string[];
  parentURL?: string;
}
interface ResolveResult {
  url: string;
  format?: string | null;
  shortCircuit?: boolean;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<ResolveResult>;

const PARAM = 'tsgi-app';
let shared: readonly string[] = [];

export function initialize(data: { shared: string[] }): void {
  shared = data.shared;
}

function appOf(url: string): string | null {
  const query = url.indexOf('?');
  return query < 0 ? null : new URLSearchParams(url.slice(query)).get(PARAM);
}

export async function resolve(specifier: string, context: ResolveContext, nextResolve: NextResolve): Promise<ResolveResult> {
  const resolved = await nextResolve(specifier, context);
  const app = context.parentURL === undefined ? null : appOf(context.parentURL);
  if (app === null || !resolved.url.startsWith('file:') || shared.some((prefix) => resolved.url.startsWith(prefix))) return resolved;
  const url = new URL(resolved.url);
  if (url.searchParams.has(PARAM)) return resolved;
  url.searchParams.set(PARAM, app);
  return { ...resolved, url: url.href };
}
