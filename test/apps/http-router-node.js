// Test fixture: a node behind the HTTP router. GET /who answers `NODE_NAME pid`, /env the CGI
// vars as JSON (in the order they arrived), /stream?n=3 streams n chunks without a
// Content-Length (tsgi frames them chunked), /slow?s=2 answers after s seconds, /no-content
// a 204, /throw fails (500), /ignore-body answers without reading the body, and any other request with a body
// answers its length and sha1 (read whole from tsgi.input).
//   NODE_NAME=a tsgi --socket /tmp/a.sock --chdir test/apps --module http-router-node
import { createHash } from 'node:crypto';
import uwsgi from 'tsgi';

const NAME = process.env.NODE_NAME ?? 'node';

export function* application(env, start_response) {
  const path = env.PATH_INFO;
  const query = new URLSearchParams(env.QUERY_STRING ?? '');
  if (path === '/who') {
    start_response('200 OK', [['Content-Type', 'text/plain']]);
    return `${NAME} ${process.pid}`;
  }
  if (path.startsWith('/env')) {
    const vars = [];
    for (const key of Object.keys(env)) if (!key.includes('.') && typeof env[key] === 'string') vars.push([key, env[key]]);
    start_response('200 OK', [['Content-Type', 'application/json']]);
    return JSON.stringify(vars);
  }
  if (path === '/stream') {
    start_response('200 OK', [['Content-Type', 'text/plain']]);
    for (let i = 0; i < Number(query.get('n') ?? 3); i++) {
      if (i > 0) yield uwsgi.async_sleep(Number(query.get('gap') ?? 0.2));
      yield `chunk ${i}\n`;
    }
    return;
  }
  if (path === '/slow') {
    yield uwsgi.async_sleep(Number(query.get('s') ?? 2));
    start_response('200 OK', [['Content-Type', 'text/plain']]);
    return 'slow';
  }
  if (path === '/throw') throw new Error('the app fails on purpose');
  if (path === '/no-content') {
    start_response('204 No Content', []);
    return;
  }
  if (path === '/ignore-body') {
    start_response('200 OK', [['Content-Type', 'text/plain']]);
    return `ignored ${env.CONTENT_LENGTH ?? 0}`;
  }
  const body = yield env['tsgi.input'];
  start_response('200 OK', [['Content-Type', 'text/plain']]);
  return `${path} ${body.length} ${createHash('sha1').update(body).digest('hex')}`;
}
