// Spooler fixture: each task's `mode` picks how the handler answers; every run is appended to
// $TSGI_TEST_MARKERS/runs.log as "<id> <event> <pid>" so tests count runs across processes.
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import uwsgi from 'tsgi';

const markers = process.env.TSGI_TEST_MARKERS;
const running = join(markers, 'running');
mkdirSync(running, { recursive: true });
const note = (id, event) => appendFileSync(join(markers, 'runs.log'), `${id} ${event} ${process.pid}\n`);
const runsOf = (id) => (globalThis.runs ??= new Map()).set(id, (globalThis.runs.get(id) ?? 0) + 1).get(id);

const modes = {
  ok: () => uwsgi.SPOOL_OK,
  retry: () => uwsgi.SPOOL_RETRY,
  ignore: () => uwsgi.SPOOL_IGNORE,
  undefined: () => undefined,
  'retry-once': (task) => (runsOf(task.id) < 2 ? uwsgi.SPOOL_RETRY : uwsgi.SPOOL_OK),
  'throw-once': (task) => {
    if (runsOf(task.id) < 2) throw new Error(`task ${task.id} fails the first time`);
    return uwsgi.SPOOL_OK;
  },
  *slow(task) {
    yield uwsgi.async_sleep(Number(task.seconds));
    note(task.id, 'end');
    return uwsgi.SPOOL_OK;
  },
  // Hangs the first time it runs anywhere (a marker file remembers it across processes and
  // restarts), so a test can kill whatever runs it; any later run finishes at once.
  *'slow-once'(task) {
    const marker = join(markers, `${task.id}.started`);
    if (existsSync(marker)) return uwsgi.SPOOL_OK;
    writeFileSync(marker, '');
    yield uwsgi.async_sleep(600);
    return uwsgi.SPOOL_OK;
  },
  // Blocks the spooler's event loop the first time it runs anywhere: only a watchdog outside the
  // loop can end it (--spooler-harakiri).
  'spin-once'(task) {
    const marker = join(markers, `${task.id}.started`);
    if (existsSync(marker)) return uwsgi.SPOOL_OK;
    writeFileSync(marker, '');
    for (;;);
  },
  async async(task) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    note(task.id, `async-${task.spooler_task_name.startsWith('uwsgi_spoolfile_on_')}`);
    return uwsgi.SPOOL_OK;
  },
  // Exactly-once across spoolers: a marker file exists while the task runs; finding it means
  // another process runs the same task at this very moment.
  *exclusive(task) {
    let fd;
    try {
      fd = openSync(join(running, task.id), 'wx');
    } catch {
      note(task.id, 'DOUBLE');
      return uwsgi.SPOOL_RETRY;
    }
    yield uwsgi.async_sleep(0.002);
    closeSync(fd);
    unlinkSync(join(running, task.id));
    return uwsgi.SPOOL_OK;
  },
  body: (task) => {
    note(task.id, `body-${task.body?.length}-${task.body?.[0]}-${task.body?.at(-1)}`);
    return uwsgi.SPOOL_OK;
  },
};

uwsgi.spooler = function (task) {
  note(task.id, `run-${task.mode}`);
  return modes[task.mode](task);
};

uwsgi.register_signal(20, 'spooler', () => note('signal', `spooler-${uwsgi.i_am_the_spooler()}-${uwsgi.worker_id()}`));

export function application(env, start_response) {
  const url = new URL(env.REQUEST_URI, 'http://x');
  let result;
  try {
    if (url.pathname === '/spool') result = JSON.parse(url.searchParams.get('tasks')).map((task) => uwsgi.spool(task));
    else if (url.pathname === '/body') result = uwsgi.spool({ id: url.searchParams.get('id'), mode: 'body', body: Buffer.alloc(Number(url.searchParams.get('size')), 0xab).fill(0x01, 0, 1) });
    else if (url.pathname === '/jobs') result = uwsgi.spooler_jobs();
    else if (url.pathname === '/signal') result = uwsgi.signal(20) ?? 'raised';
    else if (url.pathname === '/who') result = { spooler: uwsgi.i_am_the_spooler(), worker: uwsgi.worker_id() };
  } catch (error) {
    start_response('500 Internal Server Error', [['Content-Type', 'text/plain']]);
    return `${error.code}: ${error.message}`;
  }
  start_response('200 OK', [['Content-Type', 'application/json']]);
  return JSON.stringify(result);
}
