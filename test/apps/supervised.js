// For the master's supervision tests: a worker that dies soon after it serves (TSGI_TEST_DIE_WORKER),
// and a request that sends the master IPC messages no tsgi child would send.
import uwsgi from 'tsgi';

const dying = Number(process.env.TSGI_TEST_DIE_WORKER ?? 0);
if (dying > 0 && uwsgi.worker_id() === dying) setTimeout(() => process.exit(3), 150);

export function application(env, startResponse) {
  if (env.PATH_INFO === '/bad-ipc') {
    process.send({ act: 'no-such-act', seq: 1 });
    process.send({ act: 'raise-signal', seq: 2, num: 'not a number' });
    process.send('not even an object');
  }
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return `worker ${uwsgi.worker_id()}`;
}
