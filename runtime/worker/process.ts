/** Entry of a worker process spawned by the master (TSGI_WORKER_ID is set). */
import { reportBootError } from '../boot/boot-error.js';
import { EXIT } from '../errors.js';
import { flushLog, setLogPrefix } from '../logger.js';
import { channelToMaster, FIRST_SOCKET_FD, takeWorkerEnvironment } from '../ipc.js';
import { installCrashLogging } from '../boot/crash-logging.js';
import { attachSharedState } from '../shared/state.js';
import { installChildLogging } from '../logging/child-pipe.js';
import { startServing, type ServingWorker } from '../threads/serve.js';
import { startStackWatchdog } from '../harakiri/stack-watchdog.js';

function exit(code: number): never {
  flushLog();
  process.exit(code);
}

export async function runWorkerProcess(): Promise<void> {
  const spec = takeWorkerEnvironment();
  setLogPrefix(`[worker ${spec.workerId}]`);
  installChildLogging(spec.options, `[worker ${spec.workerId}]`);
  // The master decides what Ctrl-C and SIGHUP mean for the whole instance.
  process.on('SIGINT', () => {});
  process.on('SIGHUP', () => {});
  installCrashLogging();
  if (spec.options['harakiri-verbose'] && spec.options.harakiri > 0) startStackWatchdog(spec.masterPid);
  let worker: ServingWorker | undefined;
  let stopWanted = false;
  const stop = () => {
    stopWanted = true;
    void worker?.stop().then(() => exit(EXIT.OK));
  };
  // Open before the app loads: apps talk to the master from their top level (register_signal…).
  const master = channelToMaster(`worker ${spec.workerId}`, {
    'stop': stop,
    'signal': (message) => worker?.signals.deliver(message.num),
    'zmq-disconnect': (message) => worker?.relayedDisconnects(message.keys),
  });
  try {
    const sockets = spec.sockets.map((socket, i) => ({ ...socket, fd: FIRST_SOCKET_FD + i }));
    // The shared region's fd follows the sockets in the inherited stdio.
    const shared = attachSharedState(FIRST_SOCKET_FD + sockets.length, spec.options);
    worker = await startServing({
      ...spec,
      sockets,
      toMaster: (request) => master.post(request),
      askMaster: (request, timeoutMs) => master.request(request, timeoutMs),
      shared,
    });
  } catch (error) {
    // A thread that could not boot has said why itself (threads/entry.ts): exit with its code.
    const threadExit = (error as { exitCode?: unknown }).exitCode;
    return exit(typeof threadExit === 'number' ? threadExit : reportBootError(error, `worker ${spec.workerId}`));
  }
  process.on('disconnect', stop); // the master is gone: nobody will ever tell us to stop
  process.on('SIGTERM', stop);
  // A master that died while this worker booted disconnected before the listener existed.
  if (stopWanted || !process.connected) return stop();
  master.post({ act: 'ready' });
}
