// The seed's pinax.wsgi, as a JS app: the five configs next to this folder serve it.
export function application(env, start_response) {
  start_response('200 OK', [['Content-Type', 'text/plain']]);
  return `pinax ${process.pid} ${process.cwd()}\n`;
}
