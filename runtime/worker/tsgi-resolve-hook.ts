/** ESM resolve hook (runs on Node's loader thread): the bare specifier 'tsgi' → this tsgi's api. */
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

let apiUrl = '';

export function initialize(data: { apiUrl: string }): void {
  apiUrl = data.apiUrl;
}

export async function resolve(specifier: string, context: ResolveContext, nextResolve: NextResolve): Promise<ResolveResult> {
  if (specifier === 'tsgi') return { url: apiUrl, format: 'module', shortCircuit: true };
  return nextResolve(specifier, context);
}
