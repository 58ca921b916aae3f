/**
 * uWSGI signals from an app: a handler table per worker, routing by the master's table, and
 * event sources (timers, cron, file monitors) run by the master. Signal numbers are 0-255.
 */
import { tsgiError } from '../runtime/errors.js';
import type { CronFields } from '../runtime/signals/cron.js';
import type { SignalHandler } from '../runtime/signals/runner.js';
import { sendRemoteSignal } from '../runtime/services/signal-service.js';
import { workerContext } from '../runtime/context.js';
import { currentAppId } from '../runtime/apps/current-app.js';

function checkSignal(num: unknown, member: string): number {
  if (!Number.isInteger(num) || (num as number) < 0 || (num as number) > 255) {
    throw tsgiError('TSGI_ERR_API_ARGUMENT', `uwsgi.${member}: signal number ${String(num)} is not an integer 0-255`);
  }
  return num as number;
}

function checkSeconds(seconds: unknown, member: string): number {
  if (typeof seconds !== 'number' || !(seconds > 0)) throw tsgiError('TSGI_ERR_API_ARGUMENT', `uwsgi.${member}: seconds must be a positive number`);
  return seconds;
}

export const signalApi = {
  /**
   * Registers `handler` for signal `num`, routed to `who`: '' (the first available worker),
   * 'worker'/'workers' (all), 'workerN', 'active-workers', 'spooler'. Register at the top of
   * the app module: every worker does, and the instance acts as if it registered once.
   * @example
   * uwsgi.register_signal(1, '', (num) => console.log(`I am the signal handler ${num}`));
   */
  register_signal(num: number, who: string, handler: SignalHandler): void {
    const context = workerContext('register_signal');
    checkSignal(num, 'register_signal');
    if (typeof who !== 'string' || who.length > 63) throw tsgiError('TSGI_ERR_API_ARGUMENT', 'uwsgi.register_signal: the target must be a string of at most 63 characters');
    if (typeof handler !== 'function') throw tsgiError('TSGI_ERR_API_ARGUMENT', 'uwsgi.register_signal: the handler must be a function');
    context.signals.register(num, handler, currentAppId());
    context.toMaster({ act: 'register-signal', num, target: who });
  },
  /**
   * Raises signal `num`: the master routes it to the target its table holds. With `node`
   * (host:port, a unix path, @name) it asks that tsgi or uWSGI instance to raise it (modifier1
   * 110) and returns a Promise that rejects if the node is unreachable or refuses.
   * @example
   * uwsgi.signal(1);
   * yield uwsgi.signal(17, '192.168.0.1:3031');
   */
  signal(num: number, node?: string): void | Promise<void> {
    const context = workerContext('signal');
    checkSignal(num, 'signal');
    if (!node) return context.toMaster({ act: 'raise-signal', num });
    return sendRemoteSignal(node, num, context.options['socket-timeout'] * 1000).then((queued) => {
      if (!queued) throw tsgiError('TSGI_ERR_API_ARGUMENT', `uwsgi.signal: ${node} refused signal ${num}`);
    });
  },
  /**
   * True if this worker has a handler for `num`.
   * @example
   * if (!uwsgi.signal_registered(1)) uwsgi.register_signal(1, '', handler);
   */
  signal_registered(num: number): boolean {
    return workerContext('signal_registered').signals.has(checkSignal(num, 'signal_registered'));
  },
  /**
   * Raises `num` every `seconds`, forever; run by the master (once, however many workers ask).
   * @example
   * uwsgi.add_timer(1, 3); // signal 1 every 3 seconds
   */
  add_timer(num: number, seconds: number): void {
    workerContext('add_timer').toMaster({ act: 'add-timer', num: checkSignal(num, 'add_timer'), seconds: checkSeconds(seconds, 'add_timer'), iterations: 0, kind: 'timer' });
  },
  /**
   * Raises `num` every `seconds`, `iterations` times (0 = forever).
   * @example
   * uwsgi.add_rb_timer(3, 10);     // every 10 s
   * uwsgi.add_rb_timer(4, 1, 5);   // 5 times, once a second
   */
  add_rb_timer(num: number, seconds: number, iterations = 0): void {
    if (!Number.isInteger(iterations) || iterations < 0) throw tsgiError('TSGI_ERR_API_ARGUMENT', 'uwsgi.add_rb_timer: iterations must be a whole number ≥ 0');
    workerContext('add_rb_timer').toMaster({ act: 'add-timer', num: checkSignal(num, 'add_rb_timer'), seconds: checkSeconds(seconds, 'add_rb_timer'), iterations, kind: 'rb' });
  },
  /**
   * Raises `num` when `path` (a file, or a directory's entries) changes.
   * @example
   * uwsgi.add_file_monitor(4, '/tmp');
   */
  add_file_monitor(num: number, path: string): void {
    if (typeof path !== 'string' || path === '' || path.length >= 255) throw tsgiError('TSGI_ERR_API_ARGUMENT', 'uwsgi.add_file_monitor: path must be a non-empty string shorter than 255');
    workerContext('add_file_monitor').toMaster({ act: 'add-file-monitor', num: checkSignal(num, 'add_file_monitor'), path });
  },
  /**
   * Raises `num` when the local time matches, at most once a minute: -1 = any, -N = every N,
   * weekday 0 (or 7) = Sunday; day and weekday both set are OR-ed, as crontab.
   * @example
   * uwsgi.add_cron(5, 59, -1, -1, -1, -1); // signal 5 at minute 59 of every hour
   * uwsgi.add_cron(6, -1, -1, -1, -1, -1); // every minute
   */
  add_cron(num: number, minute: number, hour: number, day: number, month: number, weekday: number): boolean {
    const fields: CronFields = [minute, hour, day, month, weekday];
    if (!fields.every(Number.isInteger)) throw tsgiError('TSGI_ERR_API_ARGUMENT', 'uwsgi.add_cron: every field must be a whole number (-1 = any)');
    workerContext('add_cron').toMaster({ act: 'add-cron', num: checkSignal(num, 'add_cron'), fields });
    return true;
  },
};
