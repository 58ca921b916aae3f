// Requests that outlive --harakiri: a loop that never gives the event loop back, a request
// parked on a wait, and a quick one that shows who serves.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import uwsgi from 'tsgi';

const markers = process.env.TSGI_TEST_MARKERS;
const mark = (name, text = String(process.pid)) => markers && writeFileSync(join(markers, name), text);
const text = [['Content-Type', 'text/plain']];

function spinForever() {
  let turns = 0;
  for (;;) turns++;
}

const routes = {
  '/spin'() {
    spinForever();
  },
  *'/park'(env, sr) {
    env['tsgi.signal'].addEventListener('abort', (event) => mark('aborted', String(event.target.reason?.code)));
    try {
      yield uwsgi.async_sleep(3600);
      sr('200 OK', text);
      yield 'never\n';
    } finally {
      mark('finally');
    }
  },
  *'/begun'(env, sr) {
    sr('200 OK', text);
    yield 'first chunk\n';
    yield uwsgi.async_sleep(3600);
  },
  *'/short'(env, sr) {
    yield uwsgi.async_sleep(0.2);
    sr('200 OK', text);
    return `pid ${process.pid}\n`;
  },
};

export function application(env, sr) {
  const route = routes[env.PATH_INFO];
  if (route) return route(env, sr);
  sr('200 OK', text);
  return `pid ${process.pid}\n`;
}
