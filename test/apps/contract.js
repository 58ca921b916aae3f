// The corners of the app contract users fell into, one route each, plus signal handlers that
// use bare api calls (their results are read back through /signal-results).
import { openSync, closeSync, writeSync } from 'node:fs';
import uwsgi from 'tsgi';

const text = [['Content-Type', 'text/plain']];
const query = (env) => new URLSearchParams(env.QUERY_STRING);
const results = {};

uwsgi.register_rpc('hello', (who) => `hello ${who}`);

// A bare wait_fd_read (no yield at the call) inside a handler: applied at the handler's next
// yield, and ready_fd() then names the fd, as in a request.
uwsgi.register_signal(20, '', function* () {
  const fd = openSync(process.env.FIFO_PATH, 'r+'); // r+ on a FIFO never blocks
  try {
    writeSync(fd, 'x');
    uwsgi.wait_fd_read(fd, 2);
    yield;
    results.readyFd = uwsgi.ready_fd() === fd ? 'the fifo' : uwsgi.ready_fd();
  } finally {
    closeSync(fd);
  }
});
uwsgi.register_signal(21, '', function* () {
  const started = Date.now();
  uwsgi.async_sleep(0.3);
  yield;
  results.sleptMs = Date.now() - started;
});

// The uGreen example of the talk, ported literally: hello() is a plain function, not yield*'d.
function hello(who) {
  uwsgi.async_sleep(0.05);
  results.greeted = who;
  uwsgi.suspend();
}

const routes = {
  *'/return-tail'(env, sr) {
    sr('200 OK', text);
    yield 'head\n';
    return 'tail\n';
  },
  *'/return-tail-length'(env, sr) {
    sr('200 OK', [['Content-Type', 'text/plain'], ['Content-Length', '9']]);
    yield 'head\n';
    return 'tail';
  },
  *'/return-bytes'(env, sr) {
    sr('200 OK', text);
    return new Uint8Array([111, 107, 10]);
  },
  *'/return-object'(env, sr) {
    sr('200 OK', text);
    return { not: 'a chunk' };
  },
  *'/rpc-local'(env, sr) {
    sr('200 OK', text);
    const local = yield uwsgi.rpc('', 'hello', 'yield');
    yield `${local}\n`;
    yield `${uwsgi.call('hello', 'call')}\n`;
  },
  async '/rpc-local-await'(env, sr) {
    const local = await uwsgi.rpc(null, 'hello', 'await');
    sr('200 OK', text);
    return `${local}\n`;
  },
  *'/ugreen'(env, sr) {
    sr('200 OK', text);
    yield 'one\n';
    hello(query(env).get('who') ?? 'Serena');
    yield 'two\n';
  },
  *'/finally-throws'(env, sr) {
    sr('200 OK', text);
    try {
      yield 'waiting\n';
      yield uwsgi.async_sleep(30);
    } finally {
      throw new Error('finally-boom'); // eslint-disable-line no-unsafe-finally
    }
  },
  '/raise'(env, sr) {
    uwsgi.signal(Number(query(env).get('n')));
    sr('200 OK', text);
    return 'raised\n';
  },
  '/signal-results'(env, sr) {
    sr('200 OK', [['Content-Type', 'application/json']]);
    return JSON.stringify(results);
  },
  '/mem'(env, sr) {
    sr('200 OK', [['Content-Type', 'application/json']]);
    return JSON.stringify({ pid: process.pid, mem: uwsgi.mem() });
  },
};

export function application(env, start_response) {
  const route = routes[env.PATH_INFO];
  if (!route) {
    start_response('404 Not Found', text);
    return 'no such route\n';
  }
  return route(env, start_response);
}
