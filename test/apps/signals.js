// Registers handlers and event sources at import time, in every worker, as apps do; each
// handler appends "<tag> <worker id>" to $TSGI_TEST_MARKERS/signals.log.
import { appendFileSync } from 'node:fs';
import uwsgi from 'tsgi';

const record = (tag) => appendFileSync(`${process.env.TSGI_TEST_MARKERS}/signals.log`, `${tag} ${uwsgi.worker_id()}\n`);
const handler = (num) => record(`sig${num}`);

uwsgi.register_signal(1, '', handler);
uwsgi.register_signal(2, 'workers', handler);
uwsgi.register_signal(3, 'worker2', handler);
uwsgi.register_signal(4, 'active-workers', handler);
uwsgi.register_signal(5, '', function* (num) {
  yield uwsgi.async_sleep(0.2); // a handler is a green thread: it may suspend
  record(`sig${num}-after-sleep`);
});
if (uwsgi.worker_id() === 2) uwsgi.register_signal(6, '', handler); // only worker 2 holds it
uwsgi.register_signal(10, '', handler);
uwsgi.add_timer(10, 1);
uwsgi.register_signal(11, '', handler);
uwsgi.add_rb_timer(11, 0.3, 3);
uwsgi.register_signal(12, '', handler);
if (process.env.WATCH_PATH) uwsgi.add_file_monitor(12, process.env.WATCH_PATH);
uwsgi.register_signal(13, '', handler);
uwsgi.add_cron(13, -1, -1, -1, -1, -1);

export function application(env, start_response) {
  const num = Number(new URLSearchParams(env.QUERY_STRING).get('raise'));
  uwsgi.signal(num);
  start_response('200 OK', [['Content-Type', 'text/plain']]);
  return `raised ${num} in worker ${uwsgi.worker_id()}\n`;
}
