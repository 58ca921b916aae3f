/**
 * What the logging tests listen with: a log file polled until a line shows up, a real UDP
 * listener (node:dgram), and a real unix datagram listener standing in for /dev/log (python3's
 * socket module: Node cannot bind AF_UNIX SOCK_DGRAM), each collecting what it receives.
 */
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { spawnTracked, type TrackedProcess } from './processes.js';
import { sleep } from './tsgi.js';

export function readLog(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

/** Polls `path` until its text matches `pattern`; the error shows what the file held. */
export async function waitForLog(path: string, pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = readLog(path).match(pattern);
    if (match) return match;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} in ${path}:\n${readLog(path).slice(-4000)}`);
    await sleep(50);
  }
}

export interface Listener {
  /** Every datagram so far, in arrival order. */
  datagrams: string[];
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

function waiter(datagrams: string[], describe: () => string) {
  return async (pattern: RegExp, timeoutMs = 10_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = datagrams.find((datagram) => pattern.test(datagram));
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for a datagram matching ${pattern}; got:\n${datagrams.join('\n')}\n${describe()}`);
      await sleep(50);
    }
  };
}

export async function udpListener(port: number): Promise<Listener> {
  const socket = createSocket('udp4');
  const datagrams: string[] = [];
  socket.on('message', (message) => datagrams.push(message.toString()));
  await new Promise<void>((resolve) => socket.bind(port, '127.0.0.1', resolve));
  return { datagrams, waitFor: waiter(datagrams, () => ''), close: () => new Promise((resolve) => socket.close(() => resolve())) };
}

const UNIX_DGRAM_LISTENER = `
import os, socket, sys
path = sys.argv[1]
if os.path.exists(path): os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print("listening", flush=True)
while True:
    data = s.recv(65536)
    sys.stdout.write(data.decode("utf-8", "replace").replace("\\n", "\\\\n") + "\\n")
    sys.stdout.flush()
`;

/** A python3 process bound to the unix datagram socket `path`: each datagram becomes one line of its output. */
export async function unixDgramListener(path: string): Promise<Listener & { process: TrackedProcess }> {
  const peer = spawnTracked('unix-dgram listener', 'python3', ['-c', UNIX_DGRAM_LISTENER, path]);
  let output = '';
  const datagrams: string[] = [];
  peer.child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    const lines = output.split('\n');
    output = lines.pop()!;
    for (const line of lines) if (line !== 'listening') datagrams.push(line);
  });
  const deadline = Date.now() + 10_000;
  while (!existsSync(path)) {
    if (Date.now() > deadline || peer.child.exitCode !== null) throw new Error(`the unix datagram listener did not bind ${path}: ${peer.output()}`);
    await sleep(20);
  }
  return { datagrams, process: peer, waitFor: waiter(datagrams, () => peer.output()), close: async () => void (await peer.stop(2000)) };
}
