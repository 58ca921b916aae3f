// The shared-memory api over HTTP for the tests: /cache/set?k=&v=&e=, /cache/get?k=, … and
// /queue/push?v=, /queue/pull, /workers, /total, /pid, /reload.
import uwsgi from 'tsgi';

const text = (value) => (value === null || value === undefined ? 'null' : Buffer.isBuffer(value) ? value.toString() : JSON.stringify(value));

const routes = {
  '/cache/set': (q) => uwsgi.cache_set(q.get('k'), q.get('v'), Number(q.get('e') ?? 0)),
  '/cache/update': (q) => uwsgi.cache_update(q.get('k'), q.get('v'), Number(q.get('e') ?? 0)),
  '/cache/get': (q) => uwsgi.cache_get(q.get('k')),
  '/cache/del': (q) => uwsgi.cache_del(q.get('k')),
  '/cache/exists': (q) => uwsgi.cache_exists(q.get('k')),
  '/cache/clear': () => uwsgi.cache_clear(),
  '/queue/push': (q) => uwsgi.queue_push(q.get('v')),
  '/queue/pull': () => uwsgi.queue_pull(),
  '/queue/pop': () => uwsgi.queue_pop(),
  '/workers': () => uwsgi.workers(),
  '/total': () => uwsgi.total_requests(),
  '/pid': () => process.pid,
  '/reload': () => uwsgi.reload(),
};

/** The same operations on a remote cache (`cache=name@host:port`): they return Promises. */
const remote = {
  '/rcache/set': (q) => uwsgi.cache_update(q.get('k'), q.get('v'), 0, q.get('cache')),
  '/rcache/get': (q) => uwsgi.cache_get(q.get('k'), q.get('cache')),
  '/rcache/del': (q) => uwsgi.cache_del(q.get('k'), q.get('cache')),
};

export function application(env, start_response) {
  if (remote[env.PATH_INFO]) return answerLater(remote[env.PATH_INFO](new URLSearchParams(env.QUERY_STRING)), start_response);
  const route = routes[env.PATH_INFO];
  start_response(route ? '200 OK' : '404 Not Found', [['Content-Type', 'text/plain'], ['X-Pid', String(process.pid)]]);
  return route ? text(route(new URLSearchParams(env.QUERY_STRING))) : 'no such route';
}

async function answerLater(promise, start_response) {
  const value = await promise;
  start_response('200 OK', [['Content-Type', 'text/plain']]);
  return text(value);
}
