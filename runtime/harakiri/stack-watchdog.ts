/**
 * Starts the stack watchdog thread (stack-thread.ts) in a worker or spooler process when
 * `--harakiri-verbose` is set. A thread is a V8 isolate of its own (a few MiB), so it runs only
 * when asked for.
 */
import { Worker } from 'node:worker_threads';
import { log } from '../logger.js';
import { stackDir, stackFile, wantFile } from './stack-files.js';

const THREAD = new URL('./stack-thread.js', import.meta.url);

export function startStackWatchdog(masterPid: number): void {
  const dir = stackDir(masterPid);
  const thread = new Worker(THREAD, { workerData: { want: wantFile(dir, process.pid), stack: stackFile(dir, process.pid) } });
  thread.on('error', (error) => log(`harakiri stack watchdog failed (no JS stacks for --harakiri-verbose): ${error.message}`));
  // It must never keep a finished process alive.
  thread.unref();
}
