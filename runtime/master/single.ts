/**
 * Without `--master` and with one process, tsgi serves from a single process: it binds the
 * sockets and runs the worker in-process. SIGTERM/SIGINT still stop it gracefully.
 */
import { reportBootError } from '../boot/boot-error.js';
import { EXIT } from '../errors.js';
import { bindSockets, closeSockets, type BoundSocket } from './listeners.js';
import { flushLog, log } from '../logger.js';
import type { Options } from '../options.js';
import { removePidfile, writePidfile } from './pidfile.js';
import { installCrashLogging } from '../boot/crash-logging.js';
import { cronEntry } from '../signals/cron.js';
import type { MasterRequest } from '../ipc.js';
import { SignalHub } from '../signals/hub.js';
import { startHousekeeping } from './housekeeping.js';
import { createSharedState } from '../shared/state.js';
import { startStatsServer, statsDocument } from '../stats/server.js';
import { Worker } from '../worker/worker.js';

export async function runSingle(options: Options): Promise<void> {
  let sockets: BoundSocket[] = [];
  const exit = (code: number): never => {
    closeSockets(sockets);
    if (options.pidfile) removePidfile(options.pidfile);
    flushLog();
    process.exit(code);
  };
  let worker: Worker;
  try {
    sockets = await bindSockets(options);
    if (options.pidfile) writePidfile(options.pidfile);
    // No master: this process is its own signal hub, with itself as the only worker.
    const hub = new SignalHub(() => [{ id: 1, pid: process.pid, ready: true, deliver: (num) => worker.signals.deliver(num) }]);
    for (const line of options.cron) hub.addCommandCron(...cronEntry(line));
    // 'spooled' needs no answer: a single process runs no spooler (--spooler starts a master).
    const toMaster = (request: MasterRequest) => request.act === 'spooled' || queueMicrotask(() => hub.handle(process.pid, request));
    const shared = createSharedState(options);
    shared.scoreboard.spawned(1, process.pid);
    startHousekeeping(shared, options);
    if (options.stats) startStatsServer(options, () => statsDocument(options, shared, sockets));
    worker = await Worker.start({ options, workerId: 1, masterPid: 0, sockets: sockets.map(({ fd, protocol, name }) => ({ fd, protocol, name })), toMaster, shared });
  } catch (error) {
    reportBootError(error, 'tsgi');
    return exit(1); // 22 (APP_LOAD_ERROR) is for the master; a command fails with 1
  }
  installCrashLogging();
  let stopping = false;
  let stoppingSince = 0;
  const stop = (signal: string) => {
    if (stopping) {
      if (Date.now() - stoppingSince < 1000) return; // one signal delivered twice (process group)
      log(`${signal} again: exiting now`);
      return exit(EXIT.OK);
    }
    stopping = true;
    stoppingSince = Date.now();
    log(`${signal}: graceful shutdown (finishing in-flight requests, at most ${options['reload-mercy']} s)`);
    void worker.stop().then(() => exit(EXIT.OK));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => log('SIGHUP ignored: graceful reload needs --master'));
}
