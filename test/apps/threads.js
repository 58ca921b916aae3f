// Worker threads under test: who serves (/), CPU-bound requests (/spin?ms=), a loop that never
// yields (/forever), a long sleep (/sleep?s=), the shared cache and queue from any thread, a
// thread that dies or hangs holding the cache lock, and the workers() rows.
import { execFileSync } from 'node:child_process';
import uwsgi from 'tsgi';

// Module state is per thread (each thread imports the app): this counts this thread's requests.
let served = 0;
const who = () => `thread ${uwsgi.thread_id()} worker ${uwsgi.worker_id()} pid ${process.pid} served ${served}`;
const text = [['Content-Type', 'text/plain']];
const context = () => globalThis[Symbol.for('tsgi.worker-context')];

function spin(ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // busy: this thread's CPU, no yield
  }
}

const routes = {
  '/': () => who(),
  '/spin': (q) => {
    spin(Number(q.get('ms') ?? 500));
    return who();
  },
  '/forever': () => {
    for (;;) {
      // a loop that never gives the event loop back
    }
  },
  // Blocked in a native call (a synchronous child process): terminate() cannot interrupt it.
  '/native-block': () => execFileSync('sleep', ['15']) && who(),
  *'/sleep'(q) {
    yield uwsgi.async_sleep(Number(q.get('s') ?? 1));
    return `slept ${who()}`;
  },
  '/cache/set': (q) => `${uwsgi.cache_set(q.get('k'), q.get('v'))} ${who()}`,
  '/cache/update': (q) => `${uwsgi.cache_update(q.get('k'), q.get('v'))} ${who()}`,
  '/cache/get': (q) => `${uwsgi.cache_get(q.get('k'))?.toString() ?? 'null'} ${who()}`,
  '/queue/push': (q) => `${uwsgi.queue_push(q.get('v'))} ${who()}`,
  '/queue/last': () => `${uwsgi.queue_last()?.toString() ?? 'null'} ${who()}`,
  '/queue/pull': () => `${uwsgi.queue_pull()?.toString() ?? 'null'} ${who()}`,
  '/repairs': () => String(context().shared.cache.stats().repairs),
  // Takes the cache lock the way a cache write does, then the thread ends inside it.
  '/die-holding-lock': () => {
    context().shared.cache.lock.acquire();
    process.exit(3); // in a worker_thread: ends this thread only
  },
  '/hang-holding-lock': () => {
    context().shared.cache.lock.acquire();
    for (;;) {
      // stuck inside the critical section
    }
  },
  // An exception nobody catches, outside any request: it ends this thread.
  '/crash-later': () => {
    setTimeout(() => {
      throw new Error('boom outside a request');
    }, 10);
    return who();
  },
  '/workers': () => JSON.stringify(uwsgi.workers()),
};

export function application(env, start_response) {
  const url = new URL(env.REQUEST_URI ?? env.PATH_INFO, 'http://x');
  const route = routes[url.pathname];
  if (!route) {
    start_response('404 Not Found', text);
    return 'no such route\n';
  }
  served++;
  const result = route(url.searchParams);
  start_response('200 OK', text);
  if (result && typeof result.next === 'function') return result;
  return `${result}\n`;
}
