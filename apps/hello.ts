// The talk's hello world in TypeScript, loaded as it is (no build step). Serve with:
//   npx tsgi --socket @foobar --chdir apps --wsgi-file hello.ts --master -p 4
import type { StartResponse } from 'tsgi';

export function application(env: Record<string, unknown>, start_response: StartResponse): string {
  start_response('200 OK', [['Content-Type', 'text/html']]);
  return `<h1>Hello World</h1><p>from TypeScript, on ${String(env.PATH_INFO)}</p>`;
}
