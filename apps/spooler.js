// The talk's "The Spooler" slide, in JS. Serve with:
//   tsgi --spooler myqueue --module spooler --socket /tmp/uwsgi.sock    (from apps/)
// Every request queues two tasks; the spooler process prints each one, then works 40 s on it.
import uwsgi from 'tsgi';

function* manage_spool_request(vars) {
  console.log(vars);
  yield uwsgi.async_sleep(40); // time.sleep(40), without blocking the spooler's other green threads
  // Python's version returns None, which uWSGI (and tsgi) treat as "retry later": say it is done.
  return uwsgi.SPOOL_OK;
}

uwsgi.spooler = manage_spool_request;

export function application(e, sr) {
  const hh = [['Content-Type', 'text/plain']];
  sr('200 OK', hh);

  uwsgi.spool({ func: 'topogigio' });

  uwsgi.spool({ func: 'topolino', gigio: 'topo' });

  return 'tasks enqueued';
}
