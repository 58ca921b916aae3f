// The app of bench/spooler.bench.ts: workers enqueue, spoolers run an empty handler.
//   GET /enqueue?n=N[&every=K][&dir=D]  calls uwsgi.spool({ n: String(i) }) N times in one loop
//        (every=K: yields to the event loop after each K tasks, as N/K requests would; dir=D: into
//        spooler directory D, e.g. a --spooler-external one to warm the path up) and answers
//        {ms, startedAt}: ms is the loop's own time (process.hrtime), startedAt the wall-clock ms
//        when it began.
// In a spooler process, when SPOOLER_BENCH_MARKS names a directory, the process writes
// spooler-<pid>.json there on exit: {readyAt, done, first, last} (wall-clock ms: when the app
// was imported, i.e. just before the spooler's first scan; its first and last task finished).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import uwsgi from 'tsgi';

const now = () => performance.timeOrigin + performance.now();

let done = 0;
let first = 0;
let last = 0;
const handler = () => {
  last = now();
  if (done++ === 0) first = last;
  return uwsgi.SPOOL_OK;
};
// A plain function by default; SPOOLER_BENCH_HANDLER=async: an async one (a Promise per task).
uwsgi.spooler = process.env.SPOOLER_BENCH_HANDLER === 'async' ? async () => handler() : handler;

const marks = process.env.SPOOLER_BENCH_MARKS;
if (marks && uwsgi.i_am_the_spooler()) {
  const readyAt = now();
  process.on('exit', () => writeFileSync(join(marks, `spooler-${process.pid}.json`), JSON.stringify({ readyAt, done, first, last })));
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

export async function application(env, start_response) {
  if (env.PATH_INFO !== '/enqueue') {
    start_response('404 Not Found', [['Content-Type', 'text/plain']]);
    return 'not found';
  }
  const q = new URLSearchParams(env.QUERY_STRING);
  const n = Number(q.get('n') ?? 1000);
  const every = Number(q.get('every') ?? 0);
  const dir = q.get('dir') ?? undefined;
  const startedAt = now();
  const t0 = process.hrtime.bigint();
  if (every > 0) {
    for (let i = 0; i < n; i++) {
      uwsgi.spool({ n: String(i), spooler: dir });
      if ((i + 1) % every === 0) await turn();
    }
  } else {
    for (let i = 0; i < n; i++) uwsgi.spool({ n: String(i), spooler: dir });
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  start_response('200 OK', [['Content-Type', 'application/json']]);
  return JSON.stringify({ ms, startedAt });
}
