// Prints to stdout and stderr on every request, in pieces, to test the log master: each
// request writes one long line in several write() calls and a console.error line.
// GET /?n=K writes K lines; GET /uwsgi-log logs through uwsgi.log() instead.
import uwsgi from 'tsgi';

const HEADERS = [['Content-Type', 'text/plain']];

export function application(env, start_response) {
  if (env.PATH_INFO === '/uwsgi-log') {
    uwsgi.log('chatty says\nhello through uwsgi.log');
    start_response('200 OK', HEADERS);
    return 'ok';
  }
  const query = new URLSearchParams(env.QUERY_STRING ?? '');
  const lines = Number(query.get('n') ?? 1);
  for (let i = 0; i < lines; i++) {
    const mark = `${process.pid}-${i}`;
    // one logical line written in three pieces, long enough to cross pipe reads
    process.stdout.write(`chatty begin ${mark} `);
    process.stdout.write('x'.repeat(3000));
    process.stdout.write(` end ${mark}\n`);
  }
  console.error(`chatty stderr ${process.pid}`);
  start_response('200 OK', HEADERS);
  return 'ok';
}
