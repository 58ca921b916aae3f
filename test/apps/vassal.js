// A vassal's app for the Emperor tests: it says which process answered (so a reload or a
// respawn shows), and /sleep?s=N parks the request N seconds (so a reload under load has
// requests in flight).
import uwsgi from 'tsgi';

export function* application(env, startResponse) {
  const s = /(?:^|&)s=([\d.]+)/.exec(env.QUERY_STRING ?? '');
  if (env.PATH_INFO === '/sleep' && s) yield uwsgi.async_sleep(Number(s[1]));
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  yield `pid ${process.pid} worker ${uwsgi.worker_id()} uid ${process.getuid()}`;
}
