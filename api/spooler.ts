/**
 * The spooler from an app: `uwsgi.spool(task)` queues a durable task, `uwsgi.spooler = handler`
 * runs tasks in the spooler processes, and the handler answers with uWSGI's constants.
 */
import { tsgiError } from '../runtime/errors.js';
import { spoolerDirs, spoolTask, wakeSpoolers } from '../runtime/spooler/enqueue.js';
import { listTasks } from '../runtime/spooler/scan.js';
import { SPOOL_IGNORE, SPOOL_OK, SPOOL_RETRY, type SpoolerHandler } from '../runtime/spooler/spooler.js';
import { setSpoolerHandler, spoolerHandler, workerContext } from '../runtime/context.js';

export type { SpoolerHandler, SpoolerTask } from '../runtime/spooler/spooler.js';

/** A task's arguments: values are stored as strings (objects as JSON), `body` as raw bytes. */
export type SpoolArgs = Readonly<Record<string, unknown>>;

export const spoolerApi = {
  /**
   * Queues a task for the spooler and returns the full path of its file. The file is complete
   * on disk (fsynced) when spool returns: a crash from then on cannot lose it. Values are
   * stored as strings; special keys: `at` (unix time before which it will not run), `priority`
   * (a number: lower runs first), `spooler` (which `--spooler` directory), `body` (raw bytes,
   * the way past the 64 KiB of the pairs). Throws when it cannot write the task.
   * @example
   * uwsgi.spool({ func: 'topogigio' });
   * uwsgi.spool({ func: 'topolino', gigio: 'topo', at: Date.now() / 1000 + 60 });
   */
  spool(task: SpoolArgs): string {
    const context = workerContext('spool');
    if (task === null || typeof task !== 'object') throw tsgiError('TSGI_ERR_SPOOL_ARGS', 'uwsgi.spool() takes an object of task arguments, e.g. spool({func: "send_mail"})');
    const vars: Record<string, string> = {};
    let body: Buffer | null = null;
    for (const [key, value] of Object.entries(task)) {
      if (value === undefined) continue;
      if (key === 'body') body = value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : Buffer.from(toText(value));
      else vars[key] = toText(value);
    }
    const { dir, path } = spoolTask(vars, body, spoolerDirs(context.options));
    wakeSpoolers(context.toMaster, dir);
    return path;
  },
  /**
   * uWSGI's other name for {@link spool}.
   * @example
   * uwsgi.send_to_spooler({ func: 'cleanup' });
   */
  send_to_spooler(task: SpoolArgs): string {
    return spoolerApi.spool(task);
  },
  /**
   * Full paths of the tasks waiting in this instance's spooler directories, in run order
   * (tasks running right now included).
   * @example
   * yield `${uwsgi.spooler_jobs().length} tasks pending`;
   */
  spooler_jobs(): string[] {
    return spoolerDirs(workerContext('spooler_jobs').options).flatMap((dir) => listTasks(dir).map((task) => task.path));
  },
  /**
   * True in a spooler process (where `uwsgi.spooler` runs), false in a worker.
   * @example
   * if (!uwsgi.i_am_the_spooler()) uwsgi.spool({ func: 'later' });
   */
  i_am_the_spooler(): boolean {
    return workerContext('i_am_the_spooler').spooler !== null;
  },
  /**
   * The function spooler processes call with each task: its pairs (strings), `spooler_task_name`
   * and `body` (a Buffer) if any. It may be a generator or async. Its answer decides: SPOOL_OK
   * removes the task, SPOOL_RETRY keeps it for the next scan, SPOOL_IGNORE leaves it for some
   * other spooler; anything else, or a throw, is a retry. Set it at the top of the app module.
   * @example
   * uwsgi.spooler = function* (task) {
   *   yield uwsgi.async_sleep(1);
   *   console.log(task.func);
   *   return uwsgi.SPOOL_OK;
   * };
   */
  get spooler(): SpoolerHandler | undefined {
    return spoolerHandler();
  },
  set spooler(handler: SpoolerHandler | undefined) {
    setSpoolerHandler(handler);
  },
  /** Handler answer: the task is done, remove it. */
  SPOOL_OK,
  /** Handler answer: keep the task and run it again at the next scan. */
  SPOOL_RETRY,
  /** Handler answer: not mine, leave the task alone. */
  SPOOL_IGNORE,
};

function toText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString();
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}
