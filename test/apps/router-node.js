// Test fixture for the routers: answers with which node it is (env TSGI_TEST_NODE), the routing
// vars it saw and the body's length and sha1 (read whole). With TSGI_TEST_CACHE set
// (`key=value;key=value`) it fills the instance cache at import, for --fastrouter-use-cache.
//   tsgi --socket :3031 --chdir test/apps --module router-node
import { createHash } from 'node:crypto';
import uwsgi from 'tsgi';

for (const pair of (process.env.TSGI_TEST_CACHE ?? '').split(';').filter(Boolean)) {
  const equal = pair.indexOf('=');
  uwsgi.cache_update(pair.slice(0, equal), pair.slice(equal + 1));
}

export async function application(env, start_response) {
  const body = await env['tsgi.input'];
  const json = JSON.stringify({
    node: process.env.TSGI_TEST_NODE ?? '',
    host: env.HTTP_HOST ?? '',
    key: env.UWSGI_FASTROUTER_KEY ?? '',
    path: env.PATH_INFO,
    length: body.length,
    sha1: createHash('sha1').update(body).digest('hex'),
  });
  start_response('200 OK', [['Content-Type', 'application/json'], ['Content-Length', String(Buffer.byteLength(json))]]);
  return json;
}
