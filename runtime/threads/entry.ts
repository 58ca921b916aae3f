/**
 * Entry of one worker_thread of a worker process (--threads): it maps the shared region again
 * (an ArrayBuffer posted to a thread would be copied, FEASIBILITY 2b), keys its locks by its
 * thread, imports the app for itself (module state is per thread: JS threads share no heap)
 * and serves with its own scheduler and --async cores on its own dups of the listening fds.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { reportBootError } from '../boot/boot-error.js';
import { flushLog, setLogPrefix } from '../logger.js';
import { setLockThread } from '../shared/lock.js';
import { attachSharedState } from '../shared/state.js';
import { Worker } from '../worker/worker.js';
import type { MasterRequest } from '../ipc.js';
import type { FromThread, ThreadData, ToThread } from './relay.js';

const data = workerData as ThreadData;
const port = parentPort!;
const answers = new Map<number, (ok: boolean) => void>();
let seq = 0;
let worker: Worker | undefined;
let stopWanted = false;

const send = (message: FromThread) => port.postMessage(message);

function ask(request: MasterRequest, timeoutMs: number): Promise<boolean> {
  const id = ++seq;
  return new Promise((resolve) => {
    answers.set(id, resolve);
    send({ kind: 'ask', seq: id, request, timeoutMs });
  });
}

/** In a worker_thread process.exit() ends this thread only. */
function exit(code: number): never {
  flushLog();
  process.exit(code);
}

function stop(): void {
  stopWanted = true;
  void worker?.stop().then(() => exit(0));
}

port.on('message', (message: ToThread) => {
  switch (message.kind) {
    case 'stop': return stop();
    case 'signal': return worker?.signals.deliver(message.num);
    case 'zmq-disconnect': return worker?.relayedDisconnects(message.keys);
    case 'answer': {
      const settle = answers.get(message.seq);
      answers.delete(message.seq);
      return settle?.(message.ok);
    }
  }
});

async function main(): Promise<void> {
  setLockThread(data.thread + 1); // lock owner thread 0 is the process's main thread
  setLogPrefix(`[worker ${data.workerId} thread ${data.thread}]`);
  try {
    const shared = attachSharedState(data.regionFd, data.options);
    worker = await Worker.start({
      options: data.options,
      workerId: data.workerId,
      masterPid: data.masterPid,
      sockets: data.sockets,
      toMaster: (request) => send({ kind: 'post', request }),
      askMaster: ask,
      shared,
      thread: { id: data.thread, slot: shared.threads!.slot(data.slotIndex) },
    });
  } catch (error) {
    return exit(reportBootError(error, `worker ${data.workerId} thread ${data.thread}`));
  }
  if (stopWanted) return stop();
  send({ kind: 'ready' });
}

void main();
