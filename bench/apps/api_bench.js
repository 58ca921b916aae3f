// Benchmarks of the api from inside a worker. Each endpoint runs a loop and answers JSON.
//   /signal?n=N        raise → handler start latency of a signal routed worker → master → worker
//   /rpc-local?n=N     local uwsgi.rpc calls per second
//   /rpc-remote?n=N&node=ADDR   remote calls (one uwsgi connection each) per second
//   /http?n=N&port=P   HTTP round trips (one connection each) to a raw node:http server
import { request } from 'node:http';
import uwsgi from 'tsgi';

const now = () => performance.timeOrigin + performance.now();
let raisedAt = 0;
let arrived = null;
uwsgi.register_signal(1, 'worker1', () => arrived?.(now() - raisedAt)); // run with one worker: it raises and handles
uwsgi.register_rpc('hello', (who) => `hello ${who ?? 'world'}`);

const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function signals(n) {
  const latencies = [];
  for (let i = 0; i < n; i++) {
    const done = new Promise((resolve) => (arrived = resolve));
    raisedAt = now();
    uwsgi.signal(1);
    latencies.push(await done);
  }
  return { median_us: Math.round(median(latencies) * 1000), p99_us: Math.round(latencies[Math.floor(n * 0.99)] * 1000) };
}

async function timed(n, call) {
  const started = now();
  for (let i = 0; i < n; i++) await call();
  return { per_second: Math.round(n / ((now() - started) / 1000)) };
}

const httpOnce = (port) => new Promise((resolve, reject) => {
  request({ port, host: '127.0.0.1', agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject).end();
});

export async function application(env, start_response) {
  const q = new URLSearchParams(env.QUERY_STRING);
  const n = Number(q.get('n') ?? 1000);
  let result;
  if (env.PATH_INFO === '/signal') result = await signals(n);
  else if (env.PATH_INFO === '/rpc-local') result = await timed(n, () => uwsgi.rpc('', 'hello', 'x'));
  else if (env.PATH_INFO === '/rpc-remote') result = await timed(n, () => uwsgi.rpc(q.get('node'), 'hello', 'x'));
  else if (env.PATH_INFO === '/http') result = await timed(n, () => httpOnce(Number(q.get('port'))));
  start_response('200 OK', [['Content-Type', 'application/json']]);
  return JSON.stringify(result);
}
