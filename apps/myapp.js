// The talk's first apps, in JS. Serve with:
//   tsgi --http-socket :8080 --chdir apps --module myapp                 (hello world)
//   tsgi --http-socket :8080 --chdir apps --async 4000 --module myapp:async
//   tsgi --http-socket :8080 --chdir apps --async 4000 --module myapp --callable async2
import uwsgi from 'tsgi';

export function application(env, start_response) {
  start_response('200 OK', [['Content-Type', 'text/html']]);
  return '<h1>Hello World</h1>';
}

function* asyncApp(env, start_response) {
  const headers = [['Content-Type', 'text/html']];
  start_response('200 OK', headers);

  yield '<h1>One</h1>';
  yield '<h2>Two</h2>';
  yield '<h3>Three</h3>';
}
// `async` is a reserved word in spirit (async functions), so the export is renamed.
export { asyncApp as async };

export function* async2(env, start_response) {
  const headers = [['Content-Type', 'text/html']];
  start_response('200 OK', headers);

  yield '<h1>One</h1>';
  yield uwsgi.async_sleep(10);
  yield '<h2>Two</h2>';
  uwsgi.async_sleep(20);
  yield '<h3>Three</h3>';
}
