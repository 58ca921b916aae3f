/**
 * A real systemd-style notification socket for tests: python3 binds a unix datagram socket
 * (Node cannot; a path, or an `@name` abstract one) and prints each datagram it receives as one JSON line; `next()` resolves with
 * the next message's `KEY=VALUE` lines as an object.
 */
import { join } from 'node:path';
import { spawnTracked, type TrackedProcess } from './processes.js';
import { tempDir } from './tsgi.js';

const LISTENER = `
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
name = sys.argv[1]
s.bind("\\0" + name[1:] if name.startswith("@") else name)
if not name.startswith("@"): os.chmod(name, 0o777)
print(json.dumps("listening"), flush=True)
while True:
    print(json.dumps(s.recv(4096).decode()), flush=True)
`;

export interface NotifyListener {
  /** What NOTIFY_SOCKET must say. */
  path: string;
  /** The next message (already received or yet to come), parsed; rejects after `timeoutMs`. */
  next(timeoutMs?: number): Promise<Record<string, string>>;
  /** Every message received so far, as sent. */
  received: string[];
  process: TrackedProcess;
}

/** `abstract`: an `@name` socket (the kernel's abstract namespace) instead of a file. */
export async function startNotifyListener(opts: { abstract?: boolean } = {}): Promise<NotifyListener> {
  const path = opts.abstract ? `@tsgi-notify-${process.pid}-${Date.now()}` : join(tempDir(), 'notify.sock');
  const listener = spawnTracked('notify-listener', 'python3', ['-u', '-c', LISTENER, path], { parentDeathSignal: true });
  const received: string[] = [];
  const queue: string[] = [];
  const waiters: Array<() => void> = [];
  let buffered = '';
  let listening: () => void;
  const ready = new Promise<void>((resolve) => (listening = resolve));
  listener.child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      const message = JSON.parse(buffered.slice(0, end)) as string;
      buffered = buffered.slice(end + 1);
      if (message === 'listening' && received.length === 0 && queue.length === 0) {
        listening!();
        continue;
      }
      received.push(message);
      queue.push(message);
      for (const waiter of waiters.splice(0)) waiter();
    }
  });
  await Promise.race([ready, listener.exited.then((code) => Promise.reject(new Error(`the notify listener exited (${code}): ${listener.output()}`)))]);
  const parse = (message: string) => Object.fromEntries(message.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
  return {
    path,
    received,
    process: listener,
    next(timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no notification within ${timeoutMs} ms; received: ${JSON.stringify(received)}`)), timeoutMs);
        const take = () => {
          if (queue.length === 0) return void waiters.push(take);
          clearTimeout(timer);
          resolve(parse(queue.shift()!));
        };
        take();
      });
    },
  };
}
