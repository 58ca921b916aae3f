/**
 * A worker's or spooler's logging, set up first thing in the child: under the log master
 * (TSGI_LOG_FDS set by the master, see collector.ts) lines go to the master's pipes; without it
 * (`--log-master=false`) the child opens the targets itself, as each uWSGI process writes its
 * own log without a log master.
 */
import { setLogSink } from '../logger.js';
import type { Options } from '../options.js';
import { PipeSink } from './child-pipe.js';
import { setupLogging } from './setup.js';

export function installChildLogging(options: Options, tag: string): void {
  const fds = process.env.TSGI_LOG_FDS?.split(',').map(Number);
  delete process.env.TSGI_LOG_FDS; // the app's own child processes are not tsgi children
  if (fds && fds.length === 2 && fds.every(Number.isInteger)) return setLogSink(new PipeSink(fds[0]!, fds[1]!, tag));
  setupLogging(options, true);
}
