// RPC functions and a signal for the RPC tests; GET /?name=…&arg=…[&node=…] calls one.
import { appendFileSync } from 'node:fs';
import uwsgi from 'tsgi';

uwsgi.register_rpc('hello', (...args) => `hello from tsgi ${args.map(String).join(',')}`);
uwsgi.register_rpc('big', () => Buffer.alloc(100_000, 97));
uwsgi.register_rpc('empty', () => '');
uwsgi.register_rpc('slow', async (x) => {
  await uwsgi.async_sleep(0.05);
  return `slow ${x}`;
});
uwsgi.register_signal(17, '', (num) => appendFileSync(`${process.env.TSGI_TEST_MARKERS}/remote-signals.log`, `${num}\n`));

export function* application(env, start_response) {
  const query = new URLSearchParams(env.QUERY_STRING);
  start_response('200 OK', [['Content-Type', 'text/plain']]);
  if (query.has('signal')) {
    yield uwsgi.signal(Number(query.get('signal')), query.get('node'));
    return yield 'signalled';
  }
  let result = uwsgi.rpc(query.get('node') ?? '', query.get('name'), ...query.getAll('arg'));
  if (result !== null && typeof result.then === 'function') result = yield result; // remote or async
  yield result === null ? 'NONE' : result.length > 1000 ? `${result.length} bytes of ${String.fromCharCode(result[0])}` : result;
}
