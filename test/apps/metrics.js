// The metrics and top tests' app: `/` answers at once, `/slow?s=0.2` after S seconds, `/fail`
// throws (an exception), `/cache?k=` sets then gets a key, `/queue?v=` pushes a message,
// `/spool?at=` queues a task due at unix time AT (the handler only ever retries, so it stays).
import uwsgi from 'tsgi';

const ok = (start_response, body) => {
  start_response('200 OK', [['Content-Type', 'text/plain']]);
  return body;
};

uwsgi.spooler = () => uwsgi.SPOOL_RETRY;

export function* application(env, start_response) {
  const query = new URLSearchParams(env.QUERY_STRING);
  switch (env.PATH_INFO) {
    case '/slow':
      yield uwsgi.async_sleep(Number(query.get('s') ?? 0.2));
      return ok(start_response, 'slow');
    case '/fail':
      throw new Error('this request fails on purpose');
    case '/cache':
      uwsgi.cache_set(query.get('k'), 'v');
      return ok(start_response, String(uwsgi.cache_get(query.get('k'))));
    case '/queue':
      return ok(start_response, String(uwsgi.queue_push(query.get('v'))));
    case '/spool':
      return ok(start_response, String(uwsgi.spool({ at: query.get('at') })));
    default:
      return ok(start_response, 'hello');
  }
}
