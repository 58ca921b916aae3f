/**
 * The stack watchdog (--harakiri-verbose), a thread of a worker or spooler process. When the
 * master appends to this process's `.want` file it pauses the main thread through the
 * inspector, writes the JavaScript stack to the `.stack` file and resumes. It works inside a
 * tight `while (true) {}`: the inspector delivers the pause as a V8 interrupt, which a busy
 * loop still takes, where a signal handler in JS (node's --report-on-signal too) never runs.
 */
import { watch, writeFileSync, renameSync } from 'node:fs';
import { Session } from 'node:inspector';
import { workerData } from 'node:worker_threads';

interface CallFrame {
  functionName: string;
  location: { scriptId: string; lineNumber: number; columnNumber: number };
}

const MAX_FRAMES = 20;
const { want, stack } = workerData as { want: string; stack: string };
let capturing = false;

function describe(frame: CallFrame, urls: Map<string, string>): string {
  const { scriptId, lineNumber, columnNumber } = frame.location;
  return `${frame.functionName || '<anonymous>'} (${urls.get(scriptId) || '<eval>'}:${lineNumber + 1}:${columnNumber + 1})`;
}

function capture(): void {
  if (capturing) return;
  capturing = true;
  // Connected on demand: an attached session with the debugger on would slow every request.
  const session = new Session();
  session.connectToMainThread();
  // The call frames name their script by id: enabling the debugger announces every script.
  const urls = new Map<string, string>();
  session.on('Debugger.scriptParsed', (message: { params: { scriptId: string; url: string } }) => urls.set(message.params.scriptId, message.params.url));
  session.once('Debugger.paused', (message: { params: { callFrames: CallFrame[] } }) => {
    const frames = message.params.callFrames.slice(0, MAX_FRAMES).map((frame) => describe(frame, urls));
    writeFileSync(`${stack}.tmp`, frames.join(' | '));
    renameSync(`${stack}.tmp`, stack);
    session.post('Debugger.resume', () => {
      session.disconnect();
      capturing = false;
    });
  });
  session.post('Debugger.enable', () => session.post('Debugger.pause'));
}

writeFileSync(want, '');
watch(want, capture);
