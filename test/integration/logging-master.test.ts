/**
 * The log master: four workers whose app writes long lines in several pieces, under concurrent
 * requests; every line reaches the log whole, tagged with the worker and pid that wrote it, and
 * never cut into by another worker's output. `--log-master=false` leaves each process writing
 * its own output (untagged), as uWSGI without a log master.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readLog, waitForLog } from '../helpers/logs.js';
import { pickPort } from '../helpers/ports.js';
import { FIXTURE_APPS, httpGet, startTsgi, tempDir } from '../helpers/tsgi.js';

const REQUESTS = 120;
const LINES_PER_REQUEST = 4;
const CONCURRENCY = 16;

async function hammer(port: number): Promise<void> {
  let next = 0;
  const client = async () => {
    while (next < REQUESTS) {
      next++;
      assert.is((await httpGet({ port }, `/?n=${LINES_PER_REQUEST}`)).status, 200);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, client));
}

test('4 workers writing long lines in pieces under concurrency: every line whole, tagged [worker N pid P], never interleaved', async () => {
  const port = await pickPort();
  const file = join(tempDir(), 'tsgi.log');
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'chatty', '--master', '--processes', '4', '--logto', file], { cwd: FIXTURE_APPS, ready: null });
  try {
    await waitForLog(file, /all 4 workers ready/, 20_000);
    const pids = new Map([...readLog(file).matchAll(/\[worker (\d)\] ready \(pid (\d+)\)/g)].map((m) => [m[2], m[1]]));
    assert.is(pids.size, 4, 'four workers');
    await hammer(port);
    assert.is((await httpGet({ port }, '/uwsgi-log')).status, 200);
    await waitForLog(file, /chatty says hello/);
    await server.stop();
    const lines = readLog(file).split('\n');
    const chatty = lines.filter((line) => line.includes('chatty'));
    const bodyLines = chatty.filter((line) => line.includes('chatty begin'));
    assert.is(bodyLines.length, REQUESTS * LINES_PER_REQUEST, 'every line the app wrote, once');
    const workersSeen = new Set<string>();
    for (const line of bodyLines) {
      const match = /^\[worker (\d) pid (\d+)\] chatty begin (\d+)-(\d+) x{3000} end (\d+)-(\d+)$/.exec(line);
      assert.ok(match, `a whole line: ${line.slice(0, 120)}…${line.slice(-60)}`);
      const [, id, tagPid, pid, i, endPid, endI] = match!;
      assert.is(pid, tagPid, 'tagged with the pid that wrote it');
      assert.is(`${endPid}-${endI}`, `${pid}-${i}`, 'its own end, not another worker\'s');
      assert.is(pids.get(pid!), id, 'tagged with that pid\'s worker id');
      workersSeen.add(id!);
    }
    assert.ok(workersSeen.size >= 2, `several workers took part (${[...workersSeen]})`);
    for (const line of chatty.filter((l) => l.includes('chatty stderr'))) assert.match(line, /^\[worker \d pid (\d+)\] chatty stderr \1$/, 'stderr lines too');
    assert.match(readLog(file), /^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} - \[worker \d\] chatty says hello through uwsgi\.log$/m, 'uwsgi.log(): one dated line under the worker\'s tag');
    assert.is(lines.filter((line) => /^\[pid: \d+\|worker: \d\|req: \d+\] 127\.0\.0\.1 .* => generated/.test(line)).length, REQUESTS + 1, 'one request line per request (and the uwsgi.log one)');
  } finally {
    await server.stop();
  }
});

test('a stopped log master never blocks a worker: it keeps serving, drops what does not fit, and the count arrives once the master runs again', async () => {
  const port = await pickPort();
  const file = join(tempDir(), 'tsgi.log');
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'myapp', '--master', '--processes', '1', '--logto', file], { ready: null });
  try {
    await waitForLog(file, /all 1 workers ready/, 20_000);
    process.kill(server.pid, 'SIGSTOP');
    let wrk;
    try {
      // ~100 bytes a request line: a few seconds of keep-alive load is far more than the pipe and the worker's 1 MiB hold
      wrk = spawnSync('wrk', ['-t1', '-c16', '-d3s', `http://127.0.0.1:${port}/`], { encoding: 'utf8', timeout: 30_000 });
    } finally {
      process.kill(server.pid, 'SIGCONT');
    }
    const served = Number(/(\d+) requests in/.exec(wrk.stdout)?.[1] ?? 0);
    assert.ok(served > 20_000, `the worker served while the master was stopped: ${wrk.stdout}${wrk.stderr}`);
    assert.not.match(wrk.stdout, /Non-2xx|Socket errors/, wrk.stdout);
    const [, dropped] = await waitForLog(file, /\[worker 1\] (\d+) log line\(s\) dropped: the log master did not keep up/);
    const logged = readLog(file).split('\n').filter((line) => line.startsWith('[pid: ')).length;
    assert.ok(Number(dropped) > 0 && Number(dropped) + logged >= served, `logged ${logged} + dropped ${dropped} account for ${served} requests`);
  } finally {
    process.kill(server.pid, 'SIGCONT');
    await server.stop();
  }
});

test('a single process logging to a file: the app\'s console lines go there too, tagged as a worker\'s', async () => {
  const port = await pickPort();
  const file = join(tempDir(), 'single.log');
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'chatty', '--logto', file], { cwd: FIXTURE_APPS, ready: null });
  try {
    await waitForLog(file, /ready \(pid (\d+)\)/, 20_000);
    assert.is((await httpGet({ port }, '/?n=1')).status, 200);
    await waitForLog(file, new RegExp(`^\\[worker 1 pid ${server.pid}\\] chatty stderr ${server.pid}$`, 'm'));
    assert.not.match(server.log(), /chatty stderr/, 'not on the terminal');
  } finally {
    await server.stop();
  }
});

test('router processes log through the log master: the HTTP router\'s and the FastRouter\'s lines reach --logto, tagged', async () => {
  const [httpPort, fastPort, deadPort] = [await pickPort(), await pickPort(), await pickPort()];
  const file = join(tempDir(), 'routers.log');
  const server = await startTsgi(['--http', `127.0.0.1:${httpPort}`, '--http-to', `127.0.0.1:${deadPort}`, '--fastrouter', `127.0.0.1:${fastPort}`, '--fastrouter-to', `127.0.0.1:${deadPort}`, '--master', '--logto', file], { ready: null });
  try {
    await waitForLog(file, /\[http 1\] http router ready \(pid \d+\)/, 20_000);
    await waitForLog(file, /\[fastrouter 1\] fastrouter ready \(pid \d+\)/, 20_000);
    assert.is((await httpGet({ port: httpPort }, '/')).status, 502);
    await waitForLog(file, /\[http 1\] http router: 502 to 127\.0\.0\.1: TSGI_ERR_HROUTER_NODE_DOWN/);
    assert.not.match(server.log(), /router ready|http router: 502/, 'not on the terminal');
  } finally {
    await server.stop();
  }
});

test('--log-master=false: each process writes its own output, untagged, and its own log lines', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'chatty', '--master', '--processes', '2', '--log-master=false'], { cwd: FIXTURE_APPS, ready: /all 2 workers ready/ });
  try {
    await httpGet({ port }, '/?n=1');
    await server.waitFor(/GET \/\?n=1 => generated/);
    const line = (await server.waitFor(/^chatty begin .*$/m))[0];
    assert.match(line, /^chatty begin \d+-0 x{3000} end \d+-0$/, 'the app\'s own line, as it wrote it');
  } finally {
    await server.stop();
  }
});

test.run();
