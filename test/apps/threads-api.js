// The api that goes through the master, from worker_threads: a uWSGI signal and a timer raising
// it (each handled run appended to $TSGI_TEST_MARKERS/signals.log as "thread T pid P"), RPC
// over the uwsgi socket (/rpc?node=), and spooler tasks queued from any thread (each run
// appended to spooled.log).
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import uwsgi from 'tsgi';

const markers = process.env.TSGI_TEST_MARKERS;
const who = () => `thread ${uwsgi.thread_id()} pid ${process.pid}`;

// Every thread runs this at import: the instance still has one handler table and one timer.
uwsgi.register_signal(17, 'workers', () => appendFileSync(join(markers, 'signals.log'), `${who()}\n`));
uwsgi.register_signal(18, '', () => appendFileSync(join(markers, 'raised.log'), `${who()}\n`));
uwsgi.register_rpc('whoami', () => who());
uwsgi.spooler = (task) => {
  appendFileSync(join(markers, 'spooled.log'), `${task.id} from ${task.from}\n`);
  return uwsgi.SPOOL_OK;
};

export function* application(env, start_response) {
  const url = new URL(env.REQUEST_URI ?? env.PATH_INFO, 'http://x');
  let body = who();
  if (url.pathname === '/timer') uwsgi.add_timer(17, 1);
  else if (url.pathname === '/raise') uwsgi.signal(18);
  else if (url.pathname === '/rpc') body = `${(yield uwsgi.rpc(url.searchParams.get('node'), 'whoami'))?.toString()} answered ${who()}`;
  else if (url.pathname === '/spool') uwsgi.spool({ id: url.searchParams.get('id'), from: who() });
  start_response('200 OK', [['Content-Type', 'text/plain']]);
  return body;
}
