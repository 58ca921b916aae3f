// tsgi hello world for bench/run.ts: the same response as hello_http.cjs / hello.py
// (200, text/plain, Content-Length 11, "Hello World"), so every server sends the same bytes.
// Serve with: tsgi --http-socket :8080 --chdir bench/apps --module hello_tsgi
const HEADERS = [['Content-Type', 'text/plain'], ['Content-Length', '11']];

export function application(env, start_response) {
  start_response('200 OK', HEADERS);
  return 'Hello World';
}
