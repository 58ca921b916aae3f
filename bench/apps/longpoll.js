// Long-poll app for bench/run.ts: every request parks its green thread for 1 s.
// Serve with: tsgi --http-socket :8080 --chdir bench/apps --module longpoll --async 1000
import uwsgi from 'tsgi';

export function* application(env, sr) {
  sr('200 OK', [['Content-Type', 'text/plain']]);
  yield uwsgi.async_sleep(1);
  yield 'done\n';
}
