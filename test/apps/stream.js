// Test fixture: a generator app that streams n chunks with a green-thread sleep between
// them, so a client can see each chunk arrive before the generator has finished.
// Query string `n=4&gap=0.3` sets the count and the gap (seconds). Each line is
// `chunk I <Date.now() when yielded>`, so a client can tell production from arrival time.
//   tsgi --http-socket :8080 --chdir test/apps --async 10 --module stream
import uwsgi from 'tsgi';

export function* application(env, start_response) {
  const query = new URLSearchParams(env.QUERY_STRING ?? '');
  const count = Number(query.get('n') ?? 4);
  const gap = Number(query.get('gap') ?? 0.3);
  start_response('200 OK', [['Content-Type', 'text/plain']]);
  for (let i = 0; i < count; i++) {
    if (i > 0) yield uwsgi.async_sleep(gap);
    yield `chunk ${i} ${Date.now()}\n`;
  }
}
