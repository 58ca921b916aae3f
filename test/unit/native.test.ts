/**
 * The native addon against the real kernel: real TCP and unix sockets, pipes, child processes
 * (Python, ss, node) and worker threads. No mocks.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readlinkSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { AsyncLocalStorage } from 'node:async_hooks';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native, Poll, POLL_READABLE, POLL_WRITABLE, type NativeSystemError } from '../../runtime/native.js';

const NATIVE_URL = new URL('../../runtime/native.js', import.meta.url).href;
const EAGAIN = -11;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves once `fd` is readable, using the addon's own Poll (a real readiness wait). */
function readable(fd: number, timeoutMs = 2000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      poll.close();
      reject(new Error(`fd ${fd} not readable within ${timeoutMs} ms`));
    }, timeoutMs);
    const poll = new Poll(fd, (status) => {
      poll.close();
      clearTimeout(timer);
      if (status < 0) reject(new Error(`poll status ${status}`));
      else resolve();
    });
    poll.start(POLL_READABLE);
  });
}

/** Throws unless `fn` throws a system error with `code` (and `syscall` when given). */
function throwsCode(fn: () => unknown, code: string, syscall?: string): NativeSystemError {
  try {
    fn();
  } catch (error) {
    const e = error as NativeSystemError;
    assert.is(e.code, code, e.message);
    if (syscall !== undefined) assert.is(e.syscall, syscall);
    return e;
  }
  assert.unreachable(`expected ${code}, nothing was thrown`);
  throw new Error('unreachable');
}

/** Reads the socket until the peer ends it. */
function readAll(socket: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

function fdFlags(fd: number): number {
  const line = readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1').split('\n').find((l) => l.startsWith('flags:'));
  return parseInt(line!.split(/\s+/)[1]!, 8);
}

/**
 * Runs an ESM snippet in a fresh node with the addon module bound to `native`/`Poll` (unless
 * `bare`: then the main thread never loads the addon).
 */
function runNode(body: string, options: { timeout?: number; flags?: string[]; bare?: boolean } = {}) {
  const source = options.bare ? body : `import { native, Poll } from ${JSON.stringify(NATIVE_URL)};\n${body}`;
  return spawnSync(process.execPath, [...(options.flags ?? []), '--input-type=module', '-e', source], {
    encoding: 'utf8',
    timeout: options.timeout ?? 5000,
  });
}

// --- TCP -------------------------------------------------------------------------------------

test('listenTcp on port 0: real port, accept, EAGAIN, bytes both ways', async () => {
  const listenFd = native.listenTcp('127.0.0.1', 0, 16);
  try {
    const address = native.localAddress(listenFd);
    assert.is(address.family, 'IPv4');
    if (address.family === 'unix') throw new Error('unreachable');
    assert.is(address.address, '127.0.0.1');
    assert.ok(address.port > 0);
    assert.is(native.accept(listenFd), EAGAIN, 'nothing queued yet');

    const client = net.connect(address.port, '127.0.0.1');
    await readable(listenFd);
    const fd = native.accept(listenFd);
    assert.ok(fd >= 0, `accept returned ${fd}`);
    assert.is(native.accept(listenFd), EAGAIN, 'second accept');
    assert.ok((fdFlags(fd) & O_NONBLOCK) !== 0 && (fdFlags(fd) & O_CLOEXEC) !== 0);

    const server = new net.Socket({ fd, readable: true, writable: true });
    const serverGot = new Promise<string>((resolve) => server.once('data', (b) => resolve(b.toString())));
    const clientText = readAll(client);
    client.write('ping');
    assert.is(await serverGot, 'ping');
    server.end('pong');
    assert.is(await clientText, 'pong');
    client.destroy();
    server.destroy();
  } finally {
    native.close(listenFd);
  }
});

test('listenTcp twice on one port throws EADDRINUSE with a readable message', () => {
  const first = native.listenTcp('127.0.0.1', 0, 16);
  try {
    const address = native.localAddress(first);
    if (address.family === 'unix') throw new Error('unreachable');
    const error = throwsCode(() => native.listenTcp('127.0.0.1', address.port, 16), 'EADDRINUSE', 'bind');
    assert.is(error.message, `bind 127.0.0.1:${address.port}: EADDRINUSE (address already in use)`);
    assert.is(error.errno, -98);
    assert.instance(error, Error);
  } finally {
    native.close(first);
  }
});

test('listenTcp: IPv6 literal, bracketed form, and no DNS for hostnames', () => {
  const error = throwsCode(() => native.listenTcp('localhost', 0, 4), 'EINVAL', 'listenTcp');
  assert.is(error.message, 'listenTcp localhost:0: EINVAL (not a numeric IPv4 or IPv6 address)');
  let fd: number;
  try {
    fd = native.listenTcp('[::1]', 0, 4);
  } catch (error) {
    const code = (error as NativeSystemError).code;
    if (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT') return; // no IPv6 loopback here
    throw error;
  }
  const address = native.localAddress(fd);
  native.close(fd);
  assert.equal({ ...address, port: 0 }, { family: 'IPv6', address: '::1', port: 0 });
});

test('a listening fd is not watched by this process: connections wait in the backlog', async () => {
  const listenFd = native.listenTcp('127.0.0.1', 0, 16);
  const address = native.localAddress(listenFd);
  if (address.family === 'unix') throw new Error('unreachable');
  const client = net.connect(address.port, '127.0.0.1');
  await new Promise((resolve) => client.once('connect', resolve));
  await sleep(30);
  const fd = native.accept(listenFd); // still queued: nothing in Node accepted it
  assert.ok(fd >= 0);
  native.close(fd);
  native.close(listenFd);
  client.destroy();
});

test('argument errors are TypeErrors/RangeErrors with Node codes', () => {
  const typeError = (() => {
    try {
      native.listenTcp('127.0.0.1', 'x' as unknown as number, 1);
    } catch (e) {
      return e as NativeSystemError;
    }
    return undefined;
  })();
  assert.instance(typeError, TypeError);
  assert.is(typeError!.code, 'ERR_INVALID_ARG_TYPE');
  throwsCode(() => native.listenTcp('127.0.0.1', 70000, 1), 'ERR_OUT_OF_RANGE');
  throwsCode(() => native.accept(1.5), 'ERR_OUT_OF_RANGE');
  throwsCode(() => native.listenUnix('/tmp/x' as unknown as Buffer, 1), 'ERR_INVALID_ARG_TYPE');
  throwsCode(() => (Poll as unknown as (fd: number, cb: () => void) => void)(0, () => {}), 'ERR_CONSTRUCT_CALL_REQUIRED');
  assert.ok(native.accept(0) < 0, 'accept on a non-socket returns -errno');
});

// --- unix sockets ----------------------------------------------------------------------------

test('abstract socket @name: exact length, ss, connectUnix, Python client', async () => {
  const name = `tsgi-test-${process.pid}`;
  const bytes = Buffer.from(`\0${name}\0`, 'latin1');
  const listenFd = native.listenUnix(bytes, 16);
  try {
    const address = native.localAddress(listenFd);
    assert.is(address.family, 'unix');
    if (address.family !== 'unix') throw new Error('unreachable');
    assert.ok(address.path.equals(bytes), `sun_path ${JSON.stringify(address.path.toString('latin1'))}`);

    const ss = spawnSync('ss', ['-xl'], { encoding: 'utf8' });
    if (ss.error === undefined) {
      assert.match(ss.stdout, new RegExp(`@${name}@\\s`), 'ss -xl lists @name@ (one trailing NUL, no padding)');
    } else {
      console.log('  (ss not installed: skipped the ss -xl check)');
    }

    const client = native.connectUnix(bytes);
    assert.ok((fdFlags(client) & O_NONBLOCK) !== 0 && (fdFlags(client) & O_CLOEXEC) !== 0);
    const accepted = native.accept(listenFd);
    assert.ok(accepted >= 0);
    native.close(client);
    native.close(accepted);

    throwsCode(() => native.connectUnix(Buffer.from(`\0${name}`, 'latin1')), 'ECONNREFUSED', 'connect');

    const python = spawnSync('python3', ['-c',
      `import socket;s=socket.socket(socket.AF_UNIX);s.connect(b'\\0${name}\\0');s.send(b'hi')`], { encoding: 'utf8' });
    if (python.error !== undefined) {
      console.log('  (python3 not installed: skipped the Python client check)');
      return;
    }
    assert.is(python.status, 0, python.stderr);
    const fd = native.accept(listenFd);
    assert.ok(fd >= 0);
    assert.is(await readAll(new net.Socket({ fd, readable: true, writable: true })), 'hi');
  } finally {
    native.close(listenFd);
  }
});

test('filesystem unix socket: net.connect reaches it, accept gets the connection', async () => {
  const file = path.join(os.tmpdir(), `tsgi-test-${process.pid}.sock`);
  rmSync(file, { force: true });
  const sunPath = Buffer.concat([Buffer.from(file), Buffer.from([0])]);
  const listenFd = native.listenUnix(sunPath, 16);
  try {
    const address = native.localAddress(listenFd);
    assert.ok(address.family === 'unix' && address.path.equals(sunPath));
    throwsCode(() => native.listenUnix(sunPath, 16), 'EADDRINUSE', 'bind');

    const client = net.connect(file);
    await readable(listenFd);
    const fd = native.accept(listenFd);
    assert.ok(fd >= 0);
    const server = new net.Socket({ fd, readable: true, writable: true });
    const text = readAll(client);
    server.end('over unix');
    assert.is(await text, 'over unix');
    client.destroy();
  } finally {
    native.close(listenFd);
    rmSync(file, { force: true });
  }
});

test('unix addresses: too long is ENAMETOOLONG, a missing path is ENOENT', () => {
  const error = throwsCode(() => native.listenUnix(Buffer.alloc(109, 'a'), 1), 'ENAMETOOLONG', 'bind');
  assert.match(error.message, /^bind a+: ENAMETOOLONG \(name too long\)$/);
  throwsCode(() => native.connectUnix(Buffer.from('/nonexistent/tsgi.sock\0')), 'ENOENT', 'connect');
});

// --- Poll ------------------------------------------------------------------------------------

test('Poll on a pipe: quiet before data, fires after, again after stop/start, level-triggered', async () => {
  const [r, w] = native.pipe();
  const calls: Array<[number, number]> = [];
  const poll = new Poll(r, (status, events) => calls.push([status, events]));
  poll.start(POLL_READABLE);
  await sleep(50);
  assert.is(calls.length, 0, 'not readable before any data');

  writeSync(w, 'x');
  await sleep(30);
  assert.ok(calls.length >= 2, `keeps firing while readable (${calls.length} calls)`);
  assert.equal(calls[0], [0, POLL_READABLE]);

  poll.stop();
  const stoppedAt = calls.length;
  await sleep(30);
  assert.is(calls.length, stoppedAt, 'no calls after stop');

  poll.start(POLL_READABLE);
  await sleep(20);
  assert.ok(calls.length > stoppedAt, 'fires again: the data was not consumed');

  const buffer = Buffer.alloc(8);
  assert.is(readSync(r, buffer), 1);
  assert.is(buffer.toString('latin1', 0, 1), 'x');

  poll.close();
  poll.close();
  throwsCode(() => poll.start(POLL_READABLE), 'ERR_INVALID_STATE');
  poll.stop(); // harmless after close
  native.close(r);
  native.close(w);
});

test('Poll WRITABLE fires on the write end; a hung-up pipe reports EBADF or EOF', async () => {
  const [r, w] = native.pipe();
  const events: number[] = [];
  const poll = new Poll(w, (status, ev) => {
    assert.is(status, 0);
    events.push(ev);
    poll.stop();
  });
  poll.start(POLL_WRITABLE | POLL_READABLE);
  await sleep(20);
  assert.equal(events, [POLL_WRITABLE]);
  poll.close();

  // No reader left: epoll reports POLLERR, which libuv turns into EBADF once and stops.
  native.close(r);
  const calls: Array<[number, number]> = [];
  const broken = new Poll(w, (status, ev) => calls.push([status, ev]));
  broken.start(POLL_WRITABLE);
  await sleep(30);
  assert.equal(calls, [[-9, 0]]);
  broken.close();
  native.close(w);

  // No writer left: the read end reports READABLE (EOF), as uWSGI's wait_fd_read expects.
  const [r2, w2] = native.pipe();
  native.close(w2);
  const eof = await new Promise<[number, number]>((resolve) => {
    const poll2 = new Poll(r2, (status, ev) => { poll2.close(); resolve([status, ev]); });
    poll2.start(POLL_READABLE);
  });
  assert.equal(eof, [0, POLL_READABLE]);
  native.close(r2);
});

test('Poll refuses regular files (EPERM) and bad fds (EBADF)', () => {
  const file = path.join(os.tmpdir(), `tsgi-test-${process.pid}.txt`);
  const fd = openSync(file, 'w');
  try {
    const error = throwsCode(() => new Poll(fd, () => {}), 'EPERM', 'uv_poll_init');
    assert.is(error.message, `uv_poll_init fd ${fd}: EPERM (operation not permitted)`);
  } finally {
    closeSync(fd);
    rmSync(file);
  }
  throwsCode(() => new Poll(fd, () => {}), 'EBADF', 'dup');
  throwsCode(() => new Poll(0, 'nope' as unknown as () => void), 'ERR_INVALID_ARG_TYPE');
});

test('Poll on a dup does not disturb a net.Socket reading the same fd', async () => {
  const [r, w] = native.pipe();
  const socket = new net.Socket({ fd: r, readable: true, writable: false });
  const received = readAll(socket);
  await sleep(10); // let the socket start reading, so libuv watches r
  throwsCode(() => new Poll(r, () => {}, true), 'EEXIST', 'uv_poll_init'); // why the dup exists

  let fired = 0;
  const poll = new Poll(r, () => fired++);
  poll.start(POLL_READABLE);
  writeSync(w, 'hello ');
  await sleep(30);
  poll.close();
  writeSync(w, 'world');
  native.close(w);
  assert.is(await received, 'hello world', 'the socket got every byte, before and after the poll');
  assert.ok(fired > 0, 'the poll saw the same readiness');
  socket.destroy();
});

test('dup, close, setNonBlocking and pipe act on real fds', () => {
  const [r, w] = native.pipe();
  assert.ok((fdFlags(r) & O_CLOEXEC) !== 0 && (fdFlags(r) & O_NONBLOCK) === 0, 'pipe is cloexec and blocking');
  const copy = native.dup(r);
  assert.ok(copy !== r && (fdFlags(copy) & O_CLOEXEC) !== 0);
  writeSync(w, 'abc');
  const buffer = Buffer.alloc(3);
  assert.is(readSync(copy, buffer), 3, 'the dup reads the same pipe');
  native.setNonBlocking(copy, true);
  assert.ok((fdFlags(r) & O_NONBLOCK) !== 0, 'O_NONBLOCK is shared with the original');
  throwsCode(() => readSync(r, buffer), 'EAGAIN');
  native.setNonBlocking(r, false);
  assert.is(fdFlags(copy) & O_NONBLOCK, 0);
  native.close(copy);
  throwsCode(() => native.close(copy), 'EBADF', 'close');
  throwsCode(() => native.dup(copy), 'EBADF', 'dup');
  native.close(r);
  native.close(w);
});

test('Poll callback runs in the async context it was created in', async () => {
  const storage = new AsyncLocalStorage<{ id: number }>();
  const [r, w] = native.pipe();
  const seen = await new Promise<number | undefined>((resolve) => {
    storage.run({ id: 42 }, () => {
      const poll = new Poll(r, () => {
        poll.close();
        resolve(storage.getStore()?.id);
      });
      poll.start(POLL_READABLE);
    });
    writeSync(w, '!');
  });
  assert.is(seen, 42);
  native.close(r);
  native.close(w);
});

test('Poll keeps the loop alive until unref(), and survives GC while started', () => {
  const refd = runNode(`const [r] = native.pipe(); new Poll(r, () => {}).start(1);`, { timeout: 700 });
  assert.is(refd.signal, 'SIGTERM', 'a started Poll keeps the process running');

  const unrefd = runNode(`const [r] = native.pipe(); const p = new Poll(r, () => {}); p.start(1); p.unref();
    process.on('exit', () => console.log('exited'));`, { timeout: 3000 });
  assert.is(unrefd.status, 0, unrefd.stderr);
  assert.is(unrefd.stdout.trim(), 'exited');

  const gced = runNode(`const [r, w] = native.pipe();
    new Poll(r, function () { this.close(); console.log('fired'); }).start(1);
    for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((ok) => setImmediate(ok)); }
    native.close(w);`, { flags: ['--expose-gc'] });
  assert.is(gced.status, 0, gced.stderr);
  assert.is(gced.stdout.trim(), 'fired');
});

test('unclosed Polls are released by GC and by worker-thread exit', () => {
  const gc = runNode(`const { readdirSync } = await import('node:fs');
    const fds = () => readdirSync('/proc/self/fd').length;
    const [r] = native.pipe();
    const before = fds();
    for (let i = 0; i < 200; i++) new Poll(r, () => {});
    const during = fds();
    for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((ok) => setTimeout(ok, 10)); }
    console.log(during - before, fds() - before);`, { flags: ['--expose-gc'] });
  assert.is(gc.status, 0, gc.stderr);
  assert.is(gc.stdout.trim(), '200 0', 'each Poll held a dup, and GC closed them all');

  // Only the workers load the addon, so Node unloads it when each exits: an open handle whose
  // close callback ran after that would crash the whole process (it did, before the cleanup hook).
  const inWorker = (code: string) => `import(${JSON.stringify(NATIVE_URL)}).then(({ native, Poll }) => {
    const [r] = native.pipe(); ${code} });`;
  const workers = runNode(`import { Worker } from 'node:worker_threads';
    const run = (code) => new Promise((done) => new Worker(code, { eval: true })
      .on('message', function () { this.terminate(); }).on('exit', done));
    console.log(await run(${JSON.stringify(inWorker('const p = new Poll(r, () => {}); p.start(1); p.unref(); new Poll(r, () => {});'))}));
    console.log(await run(${JSON.stringify(inWorker("new Poll(r, () => {}).start(1); import('node:worker_threads').then((t) => t.parentPort.postMessage(1));"))}));
    console.log(await run(${JSON.stringify(inWorker('new Poll(r, () => {}).start(1); process.exit(7);'))}));`, { bare: true });
  assert.is(workers.signal, null, workers.stderr);
  assert.is(workers.status, 0, workers.stderr);
  assert.equal(workers.stdout.trim().split('\n'), ['0', '1', '7'], 'ended, terminated, process.exit');
});

test('an exception in a Poll callback becomes an uncaughtException', () => {
  const child = runNode(`process.on('uncaughtException', (e) => { console.log('caught', e.message); process.exit(0); });
    const [r, w] = native.pipe();
    new Poll(r, () => { throw new Error('boom'); }).start(1);
    native.close(w);`);
  assert.is(child.status, 0, child.stderr);
  assert.is(child.stdout.trim(), 'caught boom');
});

// --- limits ----------------------------------------------------------------------------------

test('raiseOpenFilesLimit returns at least the current soft limit and never lowers it', () => {
  const row = readFileSync('/proc/self/limits', 'latin1').split('\n').find((l) => l.startsWith('Max open files'))!;
  const [soft, hard] = row.replace('Max open files', '').trim().split(/\s+/).map(Number) as [number, number];
  assert.ok(native.raiseOpenFilesLimit(soft) >= soft);
  assert.is(native.raiseOpenFilesLimit(1), soft, 'never lowers');
  const target = Math.min(hard, soft + 16, 2 ** 31 - 1);
  assert.is(native.raiseOpenFilesLimit(target), target);
  assert.match(readFileSync('/proc/self/limits', 'latin1'), new RegExp(`Max open files\\s+${target}\\s`));
});

test('setResourceLimit sets what resourceLimit and /proc/self/limits report; soft above hard is EINVAL, a bad resource a RangeError', () => {
  const [soft, hard] = native.resourceLimit('nofile');
  const lower = Math.min(soft, 1000);
  native.setResourceLimit('nofile', lower, hard);
  assert.equal(native.resourceLimit('nofile'), [lower, hard]);
  assert.match(readFileSync('/proc/self/limits', 'latin1'), new RegExp(`Max open files\\s+${lower}\\s`));
  native.setResourceLimit('nofile', soft, hard);
  assert.throws(() => native.setResourceLimit('nofile', hard === Infinity ? Infinity : hard + 1, Math.min(hard, 100)), (error: NodeJS.ErrnoException) => error.code === 'EINVAL' || error.code === 'EPERM');
  assert.is(native.resourceLimit('as')[1] === Infinity || native.resourceLimit('as')[1] > 0, true);
  assert.throws(() => native.setResourceLimit('cpu' as 'as', 1, 1), RangeError);
});

// --- shared memory, liveness, futex ---------------------------------------------------------

/** Process state letter from /proc (R, S, Z, …), '' once the process is gone. */
function procState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return '';
  }
}

test('shmCreate + shmMap: a close-on-exec memfd, mapped twice and by a child, is one memory', () => {
  const fd = native.shmCreate('tsgi-native-test', 8192);
  try {
    assert.match(readlinkSync(`/proc/self/fd/${fd}`), /^\/memfd:tsgi-native-test/);
    assert.ok((fdFlags(fd) & O_CLOEXEC) !== 0);
    const a = new Int32Array(native.shmMap(fd, 8192));
    const b = new Int32Array(native.shmMap(fd, 4096));
    assert.is(a[5], 0, 'zero-filled');
    a[5] = 42;
    assert.is(b[5], 42);
    assert.is(Atomics.add(b, 6, 2), 0, 'Atomics work on the external buffer');
    assert.is(a[6], 2);
    const child = spawnSync(process.execPath, ['--input-type=module', '-e',
      `import { native } from ${JSON.stringify(NATIVE_URL)}; const m = new Int32Array(native.shmMap(3, 8192)); console.log(m[5]); Atomics.store(m, 7, 99);`],
    { stdio: ['ignore', 'pipe', 'pipe', fd], encoding: 'utf8', timeout: 5000 });
    assert.is(child.status, 0, child.stderr);
    assert.is(child.stdout.trim(), '42', 'the child (fd 3) sees the parent\'s write');
    assert.is(a[7], 99, 'and the parent the child\'s');
    const error = throwsCode(() => native.shmMap(fd, 8193), 'EINVAL', 'mmap');
    assert.is(error.message, `mmap fd ${fd}: EINVAL (the file is 8192 bytes, cannot map 8193)`);
    throwsCode(() => native.shmMap(fd, 0), 'ERR_OUT_OF_RANGE');
    throwsCode(() => native.shmCreate('x', 0), 'ERR_OUT_OF_RANGE');
    throwsCode(() => native.shmCreate('x'.repeat(300), 1), 'ENAMETOOLONG');
    throwsCode(() => native.shmCreate(1 as unknown as string, 1), 'ERR_INVALID_ARG_TYPE');
  } finally {
    native.close(fd);
  }
});

test('shmOpenFile: a 0600 file of exactly the size, reopened as is, another size refused; shmSync', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tsgi-test-shm-'));
  try {
    const file = path.join(dir, 'store');
    const fd = native.shmOpenFile(file, 10000);
    assert.ok((fdFlags(fd) & O_CLOEXEC) !== 0);
    assert.is(statSync(file).size, 10000);
    assert.is(statSync(file).mode & 0o777, 0o600);
    const mapping = native.shmMap(fd, 10000);
    new Uint8Array(mapping)[9999] = 7;
    native.shmSync(mapping);
    native.close(fd);
    assert.is(readFileSync(file)[9999], 7, 'writes reach the file');
    const again = native.shmOpenFile(file, 10000);
    assert.is(new Uint8Array(native.shmMap(again, 10000))[9999], 7, 'reopened with its content');
    native.close(again);
    const error = throwsCode(() => native.shmOpenFile(file, 20000), 'EINVAL', 'shmOpenFile');
    assert.is(error.message, `shmOpenFile ${file}: EINVAL (the file is 10000 bytes, expected 20000)`);
    assert.is(statSync(file).size, 10000, 'never truncated or extended');
    const empty = path.join(dir, 'empty');
    writeFileSync(empty, '');
    native.close(native.shmOpenFile(empty, 100));
    assert.is(statSync(empty).size, 100, 'an empty file counts as new');
    throwsCode(() => native.shmOpenFile(dir, 100), 'EISDIR', 'open');
    throwsCode(() => native.shmOpenFile(path.join(dir, 'no/such'), 100), 'ENOENT', 'open');
    throwsCode(() => native.shmSync(new Uint8Array(4) as unknown as ArrayBuffer), 'ERR_INVALID_ARG_TYPE');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pidAlive: this process yes, a zombie no (its parent may be the one waiting), a reaped child no', async () => {
  assert.is(native.pidAlive(process.pid), true);
  assert.is(native.pidAlive(1), true);
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  assert.is(native.pidAlive(child.pid!), true);
  child.kill('SIGKILL');
  // No await until the check: this event loop cannot reap the child, so it stays a zombie.
  const deadline = Date.now() + 5000;
  while (procState(child.pid!) !== 'Z' && Date.now() < deadline) {
    // the kernel finishes the kill
  }
  assert.is(procState(child.pid!), 'Z');
  assert.is(native.pidAlive(child.pid!), false, 'a zombie counts as dead');
  await exited;
  assert.is(native.pidAlive(child.pid!), false, 'reaped');
  throwsCode(() => native.pidAlive(0), 'ERR_OUT_OF_RANGE');
  throwsCode(() => native.pidAlive(-1), 'ERR_OUT_OF_RANGE');
});

test('futexWait/futexWake: not-equal, timed-out, and a wake-up of another process', async () => {
  const fd = native.shmCreate('tsgi-futex-test', 4096);
  try {
    const buffer = native.shmMap(fd, 4096);
    const words = new Int32Array(buffer);
    assert.is(native.futexWait(words, 0, 1, 1000), 'not-equal');
    const started = Date.now();
    assert.is(native.futexWait(words, 0, 0, 50), 'timed-out');
    assert.ok(Date.now() - started >= 45, `slept ${Date.now() - started} ms`);
    assert.is(native.futexWake(words, 0, 1), 0, 'nobody waits');

    const child = spawn(process.execPath, ['--input-type=module', '-e',
      `import { native } from ${JSON.stringify(NATIVE_URL)}; const w = new Int32Array(native.shmMap(3, 4096));
       const t = Date.now(); const r = native.futexWait(w, 1, 0, 10000); console.log(r, w[2], Date.now() - t < 9000);`],
    { stdio: ['ignore', 'pipe', 'inherit', fd] });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise((resolve) => child.on('close', resolve));
    // Word 1 seen through a view that starts at byte 4: the addon honours the view's offset.
    const view = new Int32Array(buffer, 4, 2);
    let woken = 0;
    for (const deadline = Date.now() + 5000; woken === 0 && Date.now() < deadline;) {
      await sleep(10);
      words[2] = 5;
      woken = native.futexWake(view, 0, Infinity);
    }
    assert.is(woken, 1, 'the sleeping child was woken');
    await exited;
    assert.is(out.trim(), 'ok 5 true');

    throwsCode(() => native.futexWait(new Float64Array(buffer, 0, 4) as unknown as Int32Array, 0, 0, 1), 'ERR_INVALID_ARG_TYPE');
    throwsCode(() => native.futexWait(words, 1024, 0, 1), 'ERR_OUT_OF_RANGE');
    throwsCode(() => native.futexWait(words, 0, 0, -1), 'ERR_OUT_OF_RANGE');
    throwsCode(() => native.futexWake(words, 0, -1), 'ERR_OUT_OF_RANGE');
  } finally {
    native.close(fd);
  }
});

test.run();
