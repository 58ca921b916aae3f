// The talk's uGreen example, in JS. Generator functions are JS's green threads: a nested
// function that wants to suspend is a generator too, called with `yield*`.
//   tsgi --http-socket :8080 --chdir apps --async 4000 --ugreen --module ugreen --callable async2
import uwsgi from 'tsgi';

function* hello(who) {
  yield uwsgi.async_sleep(10);
  console.log(who);
  yield uwsgi.suspend();
}

export function* async2(env, start_response) {
  const headers = [['Content-Type', 'text/html']];
  start_response('200 OK', headers);

  yield '<h1>One</h1>';
  yield* hello('Serena');
  yield '<h2>Two</h2>';
  yield* hello('Alessandro');
  yield '<h3>Three</h3>';
}
