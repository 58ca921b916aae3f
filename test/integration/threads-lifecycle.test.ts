/**
 * Worker threads' lifecycle against real processes: harakiri terminates only the stuck thread
 * (its process and siblings serve on), --max-requests recycles a thread, not its process, and
 * graceful reload, chain reload and shutdown let in-flight requests of every thread finish.
 */
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, startTsgi, tempDir, type HttpResult } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

async function start(extra: string[], processes = 1) {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--wsgi-file', 'threads.js', '--master', '--processes', String(processes), ...extra], {
    cwd: FIXTURE_APPS, ready: new RegExp(`all ${processes} workers ready`), timeoutMs: 30_000,
  });
  return { port, server };
}

const pidOf = (body: string) => /pid (\d+)/.exec(body)![1];
const threadOf = (body: string) => `${/worker (\d+)/.exec(body)![1]}/${/thread (\d+)/.exec(body)![1]}`;

/**
 * `count` sleeping requests of `seconds`, 100 ms apart. A thread with --async 1 takes at most
 * two connections (the second waits for its core; taking it pauses the thread's accepting), so
 * 8 requests on 4 threads put two in flight on every thread.
 */
async function inFlight(port: number, count: number, seconds: number): Promise<{ requests: Promise<HttpResult[]>; threads: () => Promise<string[]> }> {
  const sent: Array<Promise<HttpResult>> = [];
  for (let i = 0; i < count; i++) {
    sent.push(httpGet({ port }, `/sleep?s=${seconds}`));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const requests = Promise.all(sent);
  return { requests, threads: async () => (await requests).map((response) => threadOf(response.body)) };
}

test('harakiri: a thread stuck in a JS loop is terminated and replaced, its process and the other threads serve on', async () => {
  const { port, server } = await start(['--threads', '3', '--harakiri', '1']);
  try {
    const pid = pidOf((await httpGet({ port }, '/')).body);
    const started = Date.now();
    const stuck = httpGet({ port }, '/forever').then(() => 'answered', () => 'connection closed');
    // The siblings keep answering while it spins.
    for (let i = 0; i < 10; i++) {
      const response = await httpGet({ port }, '/');
      assert.is(pidOf(response.body), pid);
    }
    assert.is(await stuck, 'connection closed');
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1000 && elapsed < 8000, `terminated after ${elapsed} ms:\n${server.log()}`);
    await server.waitFor(/\[worker 1\] thread \d was terminated: respawning/);
    const log = server.log();
    assert.match(log, /HARAKIRI ON WORKER 1 THREAD \d \(pid \d+\): its event loop has been stuck/);
    assert.match(log, /\[worker 1\] thread \d terminated in [\d.]+ ms \(harakiri\)/);
    assert.not.match(log, /died \(signal/, 'the master killed no process');
    await server.waitFor(/(ready \(pid \d+\): app [\s\S]*){4}/); // the three threads and the replacement
    const rows = JSON.parse((await httpGet({ port }, '/workers')).body) as Array<{ pid: number; harakiri_count: number; threads: Array<{ harakiri_count: number; respawn_count: number }> }>;
    assert.is(String(rows[0]!.pid), pid, 'same process');
    assert.is(rows[0]!.threads.reduce((sum, thread) => sum + thread.harakiri_count, 0), 1);
    assert.is(rows[0]!.threads.reduce((sum, thread) => sum + thread.respawn_count, 0), 1);
  } finally {
    await server.stop();
  }
});

test('harakiri on a thread blocked in a native call, which terminate() cannot stop: the master replaces its process', async () => {
  const { port, server } = await start(['--threads', '2', '--harakiri', '1', '--min-worker-lifetime', '0', '--reload-mercy', '2']);
  try {
    const pid = pidOf((await httpGet({ port }, '/')).body);
    void httpGet({ port }, '/native-block').catch(() => {});
    await server.waitFor(/\[worker 1\] thread \d still running 3 s after terminate\(\) \(harakiri\): it is stuck outside JavaScript, asking the master to replace this process/, 15_000);
    await server.waitFor(/The work of process \d+ \(worker 1\) is done \(thread \d stuck outside JavaScript\)/);
    await server.waitFor(/\[worker 1\] ready \(pid \d+\): 2 threads[\s\S]*\[worker 1\] ready \(pid \d+\): 2 threads/, 15_000);
    let now = pid;
    for (const end = Date.now() + 10_000; now === pid && Date.now() < end; await new Promise((resolve) => setTimeout(resolve, 100))) {
      const response = await httpGet({ port }, '/').catch(() => null);
      if (response?.status === 200) now = pidOf(response.body);
    }
    assert.is.not(now, pid, server.log());
  } finally {
    await server.stop();
  }
});

test('a thread ended by an uncaught exception: the error is logged, a new thread takes its place, the others serve on', async () => {
  const { port, server } = await start(['--threads', '2', '--disable-logging']);
  try {
    const pid = pidOf((await httpGet({ port }, '/crash-later')).body);
    await server.waitFor(/\[worker 1\] thread \d crashed \(Error: boom outside a request \|.*\): respawning\n/);
    await server.waitFor(/(ready \(pid \d+\): app [\s\S]*){3}/);
    for (let i = 0; i < 5; i++) assert.is(pidOf((await httpGet({ port }, '/')).body), pid);
  } finally {
    await server.stop();
  }
});

test('--max-requests counts per thread: a thread that served its share is replaced in the same process, no request lost', async () => {
  const { port, server } = await start(['--threads', '2', '--max-requests', '3', '--disable-logging']);
  try {
    const pids = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const response = await httpGet({ port }, '/');
      assert.is(response.status, 200);
      pids.add(pidOf(response.body));
    }
    assert.is(pids.size, 1, 'the process was not recycled');
    assert.match(server.log(), /\[worker 1\] thread \d: max requests reached \(3 >= 3\): a new thread takes over/);
  } finally {
    await server.stop();
  }
});

test('graceful reload (SIGHUP): 8 requests in flight on the 4 threads of 2 processes all finish; new processes serve after', async () => {
  const { port, server } = await start(['--threads', '2', '--disable-logging'], 2);
  try {
    const before = pidOf((await httpGet({ port }, '/')).body);
    const { requests, threads } = await inFlight(port, 8, 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    process.kill(server.pid, 'SIGHUP');
    for (const response of await requests) assert.match(response.body, /^slept thread/, server.log());
    assert.equal([...new Set(await threads())].sort(), ['1/0', '1/1', '2/0', '2/1'], `in flight on ${(await threads()).join(', ')}`);
    await server.waitFor(/(stopped \(exit code 0\): generation 0 retired[\s\S]*){2}/, 20_000);
    assert.is.not(pidOf((await httpGet({ port }, '/')).body), before);
  } finally {
    await server.stop();
  }
});

test('chain reload (--touch-chain-reload): in-flight requests of every thread finish', async () => {
  const touch = join(tempDir(), 'chain');
  writeFileSync(touch, '');
  const { port, server } = await start(['--threads', '2', '--touch-chain-reload', touch, '--disable-logging'], 2);
  try {
    const before = pidOf((await httpGet({ port }, '/')).body);
    const { requests, threads } = await inFlight(port, 8, 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const later = new Date(Date.now() + 5000);
    utimesSync(touch, later, later);
    for (const response of await requests) assert.match(response.body, /^slept thread/, server.log());
    assert.equal([...new Set(await threads())].sort(), ['1/0', '1/1', '2/0', '2/1']);
    await server.waitFor(/(stopped \(exit code 0\)[\s\S]*){2}/, 20_000);
    assert.match(server.log(), /chain reload: replacing the 2 worker\(s\) one at a time/);
    assert.is.not(pidOf((await httpGet({ port }, '/')).body), before);
  } finally {
    await server.stop();
  }
});

test('shutdown (SIGTERM): requests in flight on every thread finish, then tsgi exits 0', async () => {
  const { port, server } = await start(['--threads', '2', '--disable-logging'], 2);
  const { requests } = await inFlight(port, 8, 1);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const code = server.stop('SIGTERM');
  for (const response of await requests) assert.match(response.body, /^slept thread/, server.log());
  assert.is(await code, 0, server.log());
});

test('shutdown with a thread stuck in a JS loop and no --harakiri: past --reload-mercy the thread is terminated, its process exits by itself', async () => {
  const { port, server } = await start(['--threads', '2', '--reload-mercy', '1']);
  void httpGet({ port }, '/forever').catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 300));
  const code = server.stop('SIGTERM');
  await server.waitFor(/\[worker 1\] thread \d terminated in [\d.]+ ms \(still running past --reload-mercy after it was told to stop\)/, 10_000);
  assert.is(await code, 0);
  assert.match(server.log(), /worker 1 \(pid \d+\) stopped \(exit code 0\)/, 'the process exited by itself, not killed by the master');
});

test.run();
