/**
 * The green-thread members of the api: suspensions an app yields (or awaits). A call made
 * without `yield` attaches to the green thread running right now, whichever scheduler drives
 * it (a request core, a signal handler, a spooler task), and takes effect at its next yield.
 */
import { currentThread } from '../green/current.js';
import { asyncSleep, suspend, waitFd } from '../green/suspend.js';
import type { GreenThread } from '../green/thread.js';
import type { Suspension } from '../green/suspension.js';
import { workerContext } from '../runtime/context.js';

/** The running green thread, after checking that this is a tsgi process. */
function running(member: string): GreenThread | null {
  workerContext(member);
  return currentThread();
}

export const greenApi = {
  /**
   * Sleeps the current green thread for `seconds` (fractions allowed) without blocking the
   * worker. Yield it in a generator app, or await it in an async one. Called bare (without
   * `yield`) inside a generator, it takes effect at the thread's next yield, after that chunk.
   * @example
   * yield uwsgi.async_sleep(10);   // wait here
   * uwsgi.async_sleep(20);         // wait after the next chunk is sent
   * yield '<h3>Three</h3>';
   * await uwsgi.async_sleep(0.5);  // in an async function
   */
  async_sleep(seconds: number): Suspension {
    return asyncSleep(running('async_sleep'), seconds);
  },
  /**
   * Lets every other runnable green thread (and pending I/O) run, then continues. Helper
   * generators suspend their caller only through `yield*`.
   * @example
   * function* hello(who) { yield uwsgi.async_sleep(10); console.log(who); yield uwsgi.suspend(); }
   * yield* hello('Serena');
   */
  suspend(): Suspension {
    return suspend(running('suspend'));
  },
  /**
   * Parks the thread until `fd` is readable (data is not consumed) or `timeout` seconds pass.
   * The yield evaluates to the fd, or null on timeout. Works on pipes, sockets, eventfds.
   * @example
   * const ready = yield uwsgi.wait_fd_read(fd, 5);
   * if (ready === null) yield 'timed out';
   */
  wait_fd_read(fd: number, timeout = 0): Suspension {
    return waitFd(running('wait_fd_read'), fd, false, timeout);
  },
  /**
   * Parks the thread until `fd` is writable or `timeout` seconds pass (see wait_fd_read).
   * @example
   * yield uwsgi.wait_fd_write(fd);
   */
  wait_fd_write(fd: number, timeout = 0): Suspension {
    return waitFd(running('wait_fd_write'), fd, true, timeout);
  },
  /**
   * The fd that ended the current thread's last fd wait, or -1 (also after a timeout).
   * @example
   * yield uwsgi.wait_fd_read(a); uwsgi.wait_fd_read(b); // wait for either
   * const which = uwsgi.ready_fd();
   */
  ready_fd(): number {
    return running('ready_fd')?.readyFd ?? -1;
  },
};
