/**
 * Starts real tsgi processes for integration tests and talks to them. A test that fails can
 * print `server.log()` to see what the server said. Every server is tracked by processes.ts, so
 * none outlives the test process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { track, type TrackedProcess } from './processes.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const MAIN = join(ROOT, 'dist/runtime/main.js');
export const APPS = join(ROOT, 'apps');
export const FIXTURE_APPS = join(ROOT, 'test/apps');

export interface Server {
  child: ChildProcess;
  pid: number;
  /** The record processes.ts keeps of it: `tracked.stop(graceMs)` falls back to SIGKILL. */
  tracked: TrackedProcess;
  /** Everything the server wrote to stdout and stderr so far. */
  log(): string;
  /** Resolves when the log matches `pattern` (rejects after `timeoutMs`). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** SIGTERM (graceful), then waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tsgi-test-'));
}

export interface StartOptions {
  /** Working directory (default apps/). */
  cwd?: string;
  /** The log line to wait for before resolving (default /ready \(pid/); null resolves at once. */
  ready?: RegExp | null;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Written to the server's standard input, which is then closed (default: no stdin at all). */
  input?: string | Buffer;
  /** A command that execs tsgi, e.g. `['ip', 'netns', 'exec', 'ns1']` (the pid stays tsgi's). */
  wrapper?: string[];
}

/**
 * Runs `tsgi ...args`. `ready` is the log line to wait for before resolving; pass null to
 * resolve at once (for processes expected to fail).
 */
export async function startTsgi(args: string[], opts: StartOptions = {}): Promise<Server> {
  const stdin = opts.input === undefined ? 'ignore' : 'pipe';
  const [command, ...prefix] = [...(opts.wrapper ?? []), process.execPath];
  const child = spawn(command!, [...prefix, MAIN, ...args], { cwd: opts.cwd ?? APPS, env: { ...process.env, ...opts.env }, stdio: [stdin, 'pipe', 'pipe'] });
  if (opts.input !== undefined) {
    // A server that exits before reading all of it closes the pipe: EPIPE then is no failure.
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input);
  }
  let output = '';
  const waiters: Array<() => void> = [];
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const waiter of waiters.splice(0)) waiter();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => {
    resolve(code ?? signal ?? -1);
    for (const waiter of waiters.splice(0)) waiter();
  }));
  const server: Server = {
    child,
    pid: child.pid!,
    tracked: track('tsgi', child, { output: () => output }),
    log: () => output,
    exited,
    waitFor(pattern, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern} in:\n${output}`)), timeoutMs);
        const check = () => {
          const match = output.match(pattern);
          if (match) {
            clearTimeout(timer);
            return resolve(match);
          }
          if (child.exitCode !== null || child.signalCode !== null) {
            clearTimeout(timer);
            return reject(new Error(`tsgi exited (${child.exitCode ?? child.signalCode}) before ${pattern}:\n${output}`));
          }
          waiters.push(check);
        };
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  const ready = opts.ready === undefined ? /ready \(pid/ : opts.ready;
  if (ready) {
    try {
      await server.waitFor(ready, opts.timeoutMs);
    } catch (error) {
      child.kill('SIGKILL'); // a server that never got ready must not outlive the test
      throw error;
    }
  }
  return server;
}

/** Runs tsgi to completion (for CLI errors); resolves with its exit code and output. */
export async function runTsgi(args: string[], opts: { cwd?: string; input?: string | Buffer } = {}): Promise<{ code: number | string; output: string }> {
  const server = await startTsgi(args, { cwd: opts.cwd, ready: null, input: opts.input });
  const code = await server.exited;
  return { code, output: server.log() };
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request (no keep-alive agent), resolving with status, headers and body. */
export function httpGet(target: { port: number; host?: string } | { socketPath: string }, path = '/', init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ ...target, path, method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The stats server's JSON document (`--stats 127.0.0.1:PORT`). */
export function readStats(port: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let text = '';
    connect(port, '127.0.0.1').on('data', (chunk) => (text += chunk)).on('end', () => resolve(JSON.parse(text) as Record<string, unknown>)).on('error', reject);
  });
}
