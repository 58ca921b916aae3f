/**
 * What the native.ConnServer tests share: a TCP listener on port 0, a callback recorder, client
 * helpers and a way to run a snippet in a fresh node process.
 */
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import * as assert from 'uvu/assert';
import { native, type NativeSystemError } from '../../runtime/native.js';

export const NATIVE_URL = new URL('../../runtime/native.js', import.meta.url).href;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `predicate` every 2 ms; throws `what` after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** A listening TCP socket on 127.0.0.1 with a kernel-chosen port. */
export function listenTcp(): { listenFd: number; port: number } {
  const listenFd = native.listenTcp('127.0.0.1', 0, 128);
  const address = native.localAddress(listenFd);
  if (address.family === 'unix') throw new Error('unreachable');
  return { listenFd, port: address.port };
}

export type Call = { kind: 'data'; fd: number; chunk: Buffer | null } | { kind: 'drain'; fd: number };

/** Records every ConnServer callback in order (tests outside the hot loops only). */
export class Recorder {
  readonly calls: Call[] = [];
  readonly onData = (fd: number, chunk: Buffer | null): void => {
    if (chunk?.length === 0) return; // accepted before the client spoke (tested on its own)
    this.calls.push({ kind: 'data', fd, chunk });
  };
  readonly onDrain = (fd: number): void => {
    this.calls.push({ kind: 'drain', fd });
  };
  /** The calls for one fd, as 'drain', null or the chunk's latin1 text. */
  of(fd: number): Array<string | null> {
    return this.calls
      .filter((call) => call.fd === fd)
      .map((call) => (call.kind === 'drain' ? 'drain' : call.chunk === null ? null : call.chunk.toString('latin1')));
  }
  data(): Array<{ fd: number; chunk: Buffer | null }> {
    return this.calls.filter((call): call is Call & { kind: 'data' } => call.kind === 'data');
  }
}

export interface ClientResult {
  data: Buffer;
  ended: boolean;
  error: string | undefined;
  hadError: boolean;
}

/** Everything a client socket receives until it closes, how it ended and any error. */
export function collect(socket: net.Socket): Promise<ClientResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let ended = false;
    let error: string | undefined;
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => (ended = true));
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    socket.on('close', (hadError) => resolve({ data: Buffer.concat(chunks), ended, error, hadError }));
  });
}

export function connected(socket: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
}

export function throwsCode(fn: () => unknown, code: string, type?: ErrorConstructor): void {
  try {
    fn();
  } catch (error) {
    assert.is((error as NativeSystemError).code, code, (error as Error).message);
    if (type !== undefined) assert.instance(error, type);
    return;
  }
  assert.unreachable(`expected ${code}, nothing was thrown`);
}

/** Runs an ESM snippet in a fresh node with `native` and `ConnServer` imported. */
export function runNode(body: string, options: { timeout?: number; flags?: string[]; bare?: boolean } = {}) {
  const source = options.bare ? body : `import { native, ConnServer } from ${JSON.stringify(NATIVE_URL)};\n${body}`;
  return spawnSync(process.execPath, [...(options.flags ?? []), '--input-type=module', '-e', source], {
    encoding: 'utf8',
    timeout: options.timeout ?? 10000,
  });
}
