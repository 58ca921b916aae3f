// The app of bench/threads.bench.ts: hello (/), a CPU-bound request (/cpu: a fixed amount of
// integer work, about 1 ms on this machine, no yield) and an I/O-bound long-poll (/poll: a
// green-thread sleep of 200 ms that holds its core but no CPU).
import uwsgi from 'tsgi';

const HELLO = [['Content-Type', 'text/plain'], ['Content-Length', '11']];
const TEXT = [['Content-Type', 'text/plain']];

function work(iterations) {
  let x = 1;
  for (let i = 0; i < iterations; i++) x = (Math.imul(x, 1103515245) + 12345) >>> 0;
  return x;
}

function* poll(start_response) {
  yield uwsgi.async_sleep(0.2);
  start_response('200 OK', TEXT);
  yield 'polled';
}

export function application(env, start_response) {
  const path = env.PATH_INFO;
  if (path === '/cpu') {
    const x = work(1_000_000);
    start_response('200 OK', TEXT);
    return String(x);
  }
  if (path === '/poll') return poll(start_response);
  start_response('200 OK', HELLO);
  return 'Hello World';
}
