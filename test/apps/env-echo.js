// Test fixture: answers with JSON of the CGI vars the app saw (every string-valued key without
// a dot) plus the request body's length and sha1, read whole from `tsgi.input`.
//   tsgi --socket :3031 --chdir test/apps --module env-echo
import { createHash } from 'node:crypto';

export async function application(env, start_response) {
  const body = await env['tsgi.input'];
  const vars = {};
  for (const key of Object.keys(env)) {
    if (!key.includes('.') && typeof env[key] === 'string') vars[key] = env[key];
  }
  const json = JSON.stringify({
    vars,
    body: { length: body.length, sha1: createHash('sha1').update(body).digest('hex') },
  });
  start_response('200 OK', [
    ['Content-Type', 'application/json'],
    ['Content-Length', String(Buffer.byteLength(json))],
    ['X-Echo', 'env-echo'],
  ]);
  return json;
}
