/**
 * Requests lost to a reload, side by side: tsgi's chain reload (master FIFO `c`), tsgi's full
 * graceful reload (SIGHUP) and Gunicorn's HUP (`kill -HUP` of its arbiter), each with 4 workers
 * serving a hello world (bench/apps/hello_tsgi.js, bench/apps/hello.py), under
 * `wrk -c64` on loopback for BENCH_SECONDS (12), reloaded BENCH_RELOADS (3) times at even
 * intervals. Failed = wrk's non-2xx/3xx responses + its socket errors (connect, read, write,
 * timeout). Configurations run interleaved per round (BENCH_ROUNDS, 2); every run starts fresh.
 *
 *   npm run build && node dist/bench/reload.bench.js
 *
 * Needs wrk and gunicorn (Debian: `apt-get install -y wrk gunicorn`, .ci/install-deps).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pickPort } from '../test/helpers/ports.js';
import { tempDir } from '../test/helpers/tsgi.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const APPS = join(ROOT, 'bench/apps');
const MAIN = join(ROOT, 'dist/runtime/main.js');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 12);
const RELOADS = Number(process.env.BENCH_RELOADS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONNS = Number(process.env.BENCH_CONNS ?? 64);
const WORKERS = 4;

interface Server {
  process: ChildProcess;
  reload(): void;
}

interface Config {
  name: string;
  start(port: number): Server;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function tsgi(reload: (child: ChildProcess, fifo: string) => void): (port: number) => Server {
  return (port) => {
    const fifo = join(tempDir(), 'fifo');
    const child = spawn(process.execPath, [MAIN, '--http-socket', `127.0.0.1:${port}`, '--chdir', APPS, '--module', 'hello_tsgi', '--master', '--processes', String(WORKERS), '--disable-logging', '--master-fifo', fifo], { stdio: ['ignore', 'ignore', 'ignore'] });
    return { process: child, reload: () => reload(child, fifo) };
  };
}

const CONFIGS: Config[] = [
  { name: 'tsgi chain reload (FIFO c)', start: tsgi((_, fifo) => writeFileSync(fifo, 'c')) },
  { name: 'tsgi graceful reload (SIGHUP)', start: tsgi((child) => child.kill('SIGHUP')) },
  {
    name: 'gunicorn 20 HUP (sync workers)',
    start: (port) => {
      const child = spawn('gunicorn', ['--workers', String(WORKERS), '--bind', `127.0.0.1:${port}`, '--chdir', APPS, '--log-level', 'warning', 'hello:application'], { stdio: ['ignore', 'ignore', 'ignore'] });
      return { process: child, reload: () => child.kill('SIGHUP') };
    },
  },
];

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    request({ port, host: '127.0.0.1', path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    }).on('error', () => resolve(false)).end();
  });
}

interface Result {
  requests: number;
  failed: number;
  detail: string;
}

/** Runs wrk and reloads the server RELOADS times meanwhile. */
async function measure(config: Config): Promise<Result> {
  const port = await pickPort();
  const server = config.start(port);
  try {
    for (let i = 0; !(await answers(port)); i++) {
      if (i > 200) throw new Error(`${config.name} never answered`);
      await sleep(50);
    }
    await sleep(1000); // every worker up
    const wrk = spawn('wrk', ['-t2', `-c${CONNS}`, `-d${SECONDS}s`, `http://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    wrk.stdout!.on('data', (chunk: Buffer) => (output += chunk));
    const finished = new Promise((resolve) => wrk.on('exit', resolve));
    for (let i = 1; i <= RELOADS; i++) {
      await sleep((SECONDS * 1000) / (RELOADS + 1));
      server.reload();
    }
    await finished;
    const requests = Number(/(\d+) requests in/.exec(output)?.[1] ?? NaN);
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
    const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
    const [connect, read, write, timeout] = socket ? socket.slice(1).map(Number) : [0, 0, 0, 0];
    return { requests, failed: non2xx + connect! + read! + write! + timeout!, detail: `non-2xx ${non2xx}, connect ${connect}, read ${read}, write ${write}, timeout ${timeout}` };
  } finally {
    server.process.kill('SIGTERM');
    await new Promise((resolve) => {
      const timer = setTimeout(() => { server.process.kill('SIGKILL'); resolve(null); }, 5000);
      server.process.on('exit', () => { clearTimeout(timer); resolve(null); });
      if (server.process.exitCode !== null) resolve(null);
    });
  }
}

async function main(): Promise<void> {
  for (const tool of ['wrk', 'gunicorn']) {
    if (spawnSync(tool, ['--version']).error) throw new Error(`${tool} is missing: bash .ci/install-deps`);
  }
  const results = new Map<string, Result[]>(CONFIGS.map((config) => [config.name, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const config of CONFIGS) {
      const result = await measure(config);
      results.get(config.name)!.push(result);
      console.log(`round ${round}: ${config.name}: ${result.failed} failed of ${result.requests} (${result.detail})`);
    }
  }
  console.log(`\n${RELOADS} reloads in ${SECONDS} s, wrk -c${CONNS}, ${WORKERS} workers, hello world; ${ROUNDS} round(s)\n`);
  console.log('| configuration | requests (per run) | failed (per run) | failed % |');
  console.log('|---|---|---|---|');
  for (const [name, runs] of results) {
    const requests = runs.map((run) => run.requests);
    const failed = runs.map((run) => run.failed);
    const pct = (100 * failed.reduce((a, b) => a + b, 0)) / requests.reduce((a, b) => a + b, 0);
    console.log(`| ${name} | ${requests.join(', ')} | ${failed.join(', ')} | ${pct.toFixed(3)} % |`);
  }
}

await main();
