// A TypeScript app loaded without a build step (--wsgi-file typed.ts).
import uwsgi, { type StartResponse } from 'tsgi';

export function* application(env: Record<string, unknown>, start_response: StartResponse): Generator<unknown, void, unknown> {
  start_response('200 OK', [['Content-Type', 'text/plain']]);
  yield uwsgi.async_sleep(0.01);
  yield `typescript on ${String(env.PATH_INFO)}\n`;
}
