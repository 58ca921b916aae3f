/**
 * Entry of a spooler process spawned by the master (TSGI_SPOOLER names its directory). It
 * imports the app like a worker does, so the module's `uwsgi.spooler = …` (kept by
 * runtime/context.ts) and its signal handlers exist here too, then runs the {@link Spooler}
 * until told to stop.
 */
import { setWorkerContext, spoolerHandler } from '../context.js';
import { loadApp } from '../worker/app-loader.js';
import { reportBootError } from '../boot/boot-error.js';
import { installCrashLogging } from '../boot/crash-logging.js';
import { EXIT } from '../errors.js';
import { channelToMaster, FIRST_SOCKET_FD, takeWorkerEnvironment } from '../ipc.js';
import { flushLog, log, setLogPrefix } from '../logger.js';
import { installChildLogging } from '../logging/child-pipe.js';
import { SignalRunner } from '../signals/runner.js';
import { attachSharedState, type SharedState } from '../shared/state.js';
import { SpoolerHarakiri } from './harakiri.js';
import { Spooler } from './spooler.js';
import { startStackWatchdog } from '../harakiri/stack-watchdog.js';

function exit(code: number): never {
  flushLog();
  process.exit(code);
}

export async function runSpoolerProcess(): Promise<void> {
  const spec = takeWorkerEnvironment();
  const dir = spec.spooler!;
  const { options } = spec;
  setLogPrefix(`[spooler ${spec.workerId}]`);
  installChildLogging(options, `[spooler ${spec.workerId}]`);
  process.on('SIGINT', () => {});
  process.on('SIGHUP', () => {});
  installCrashLogging();
  if (options['harakiri-verbose'] && options['spooler-harakiri'] > 0) startStackWatchdog(spec.masterPid);
  let stopping = false;
  let started = false;
  const stop = (code: number = EXIT.OK) => {
    if (stopping) return;
    stopping = true;
    if (started) void spooler.stop(options['reload-mercy']).then(() => exit(code));
  };
  // Open before the app loads: apps talk to the master from their top level (register_signal…).
  const master = channelToMaster(`spooler ${spec.workerId}`, {
    wake: () => started && spooler.wake(),
    stop: () => stop(),
    signal: (message) => signals.deliver(message.num),
  });
  let shared: SharedState;
  try {
    shared = attachSharedState(FIRST_SOCKET_FD, options);
  } catch (error) {
    return exit(reportBootError(error, `spooler ${spec.workerId}`));
  }
  const spooler = new Spooler({
    dir,
    frequency: options['spooler-frequency'],
    cores: options['spooler-async'],
    maxTasks: options['spooler-max-tasks'],
    // The master numbers spoolers 1… per directory in turn (pool.ts).
    peer: { index: (spec.workerId - 1) % options['spooler-processes'], count: options['spooler-processes'] },
    handler: spoolerHandler,
    onRecycle: () => stop(EXIT.SPOOLER_RECYCLE),
    harakiri: options['spooler-harakiri'] > 0 ? new SpoolerHarakiri(options['spooler-async'], shared.spoolers?.slot(spec.workerId) ?? null) : null,
    stats: shared.spoolers?.slot(spec.workerId) ?? null,
  });
  const signals = new SignalRunner();
  try {
    setWorkerContext({
      workerId: 0,
      masterPid: spec.masterPid,
      numproc: options.processes,
      options: Object.freeze({ ...options }),
      scheduler: spooler.scheduler,
      signals,
      toMaster: (request) => master.post(request),
      askMaster: (request, timeoutMs) => master.request(request, timeoutMs),
      shared,
      spooler: dir,
    });
    // Mounted apps (runtime/apps/) stay in the workers: uwsgi.spooler is one handler per process.
    if (options.module !== undefined || options['wsgi-file'] !== undefined) await loadApp(options);
  } catch (error) {
    return exit(reportBootError(error, `spooler ${spec.workerId}`));
  }
  process.on('disconnect', () => stop());
  process.on('SIGTERM', () => stop());
  // A master that died (or asked it to stop) while this spooler booted: nothing runs yet.
  if (stopping || !process.connected) return exit(EXIT.OK);
  log(`spooler ready (pid ${process.pid}) on ${dir}: ${options['spooler-async']} task(s) at once, rescan every ${options['spooler-frequency']} s`);
  started = true;
  spooler.start();
  master.post({ act: 'ready' });
}
