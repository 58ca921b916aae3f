/** Entry of a worker process spawned by the master (TSGI_WORKER_ID is set). */
import { reportBootError } from './boot-error.js';
import { EXIT } from './errors.js';
import { flushLog, setLogPrefix } from './logger.js';
import { FIRST_SOCKET_FD, takeWorkerEnvironment, type MasterMessage, type WorkerMessage } from './ipc.js';
import { installCrashLogging } from './crash-logging.js';
import { Worker } from './worker.js';

function exit(code: number): never {
  flushLog();
  process.exit(code);
}

export async function runWorkerProcess(): Promise<void> {
  const spec = takeWorkerEnvironment();
  setLogPrefix(`[worker ${spec.workerId}]`);
  // The master decides what Ctrl-C and SIGHUP mean for the whole instance.
  process.on('SIGINT', () => {});
  process.on('SIGHUP', () => {});
  installCrashLogging();
  let worker: Worker;
  try {
    worker = await Worker.start({ ...spec, sockets: spec.sockets.map((socket, i) => ({ ...socket, fd: FIRST_SOCKET_FD + i })) });
  } catch (error) {
    return exit(reportBootError(error, `worker ${spec.workerId}`));
  }
  const stop = () => void worker.stop().then(() => exit(EXIT.OK));
  process.on('message', (message: MasterMessage) => {
    if (message.act === 'stop') stop();
  });
  process.on('disconnect', stop); // the master is gone: nobody will ever tell us to stop
  process.on('SIGTERM', stop);
  process.send!({ act: 'ready' } satisfies WorkerMessage);
}
