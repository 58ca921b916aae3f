/**
 * Request logging to a file, side by side: hello over HTTP (`wrk -t1 -c64`, keep-alive asked),
 * one worker each, every request logged to a file:
 *
 *   tsgi --logto FILE            (the log master writes the file; issue 15)
 *   tsgi 2>FILE                  (stderr redirected: what tsgi offered before --logto)
 *   uWSGI --http-socket --logto FILE
 *   gunicorn --access-logfile FILE (sync worker)
 *
 * All servers are up at once and measured in rotating rounds; prints each median and the
 * ratios of the same rounds. Goal: tsgi --logto ≥ 1.5× uWSGI --logto. uWSGI 2.0's --http-socket
 * and gunicorn's sync worker close the connection after each response (wrk reconnects), as in
 * the anchors' A1 row: that is how those servers serve this client.
 *
 *   node dist/bench/logging.bench.js [rounds] [seconds] [--only-stderr]
 *
 * `--only-stderr` measures the stderr-redirect tsgi alone (for a tree without --logto).
 * TSGI_BASE_ROOT=DIR adds `tsgi before`: another built tree (say the commit before the log
 * master, `git archive` + `tsc`) serving with stderr redirected, measured in the same rounds.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineBusy, median } from './common.js';
import { pickPort } from '../test/helpers/ports.js';
import { stopAll, track } from '../test/helpers/processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const APPS = join(ROOT, 'bench/apps');
const args = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const rounds = Number(args[0] ?? 3);
const seconds = Number(args[1] ?? 5);
const onlyStderr = process.argv.includes('--only-stderr');
const DIR = mkdtempSync(join(tmpdir(), 'tsgi-logging-bench-'));

interface Server { label: string; port: number; logFile: string; rps: number[] }

function waitForPort(port: number, child: ChildProcess, label: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 30_000;
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`${label} exited ${child.exitCode}`));
      const socket = connect(port, '127.0.0.1');
      socket.on('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.on('error', () => (Date.now() > deadline ? reject(new Error(`${label} never listened on ${port}`)) : setTimeout(attempt, 100)));
    };
    attempt();
  });
}

async function start(label: string, command: string, argv: (port: number, logFile: string) => string[], redirect = false): Promise<Server> {
  const port = await pickPort();
  const logFile = join(DIR, `${label.replace(/\W+/g, '_')}.log`);
  const out = redirect ? openSync(logFile, 'a') : 'ignore';
  const child = spawn(command, argv(port, logFile), { cwd: ROOT, stdio: ['ignore', out, out], env: { ...process.env, PYTHONPATH: APPS } });
  track(label, child);
  await waitForPort(port, child, label);
  return { label, port, logFile, rps: [] };
}

function wrk(port: number, duration: number): number {
  const result = spawnSync('wrk', ['-t1', '-c64', `-d${duration}s`, `http://127.0.0.1:${port}/`], { encoding: 'utf8', timeout: (duration + 30) * 1000 });
  if (result.error) throw new Error(`wrk failed to run: ${result.error.message}`);
  const requests = /(\d+) requests in/.exec(result.stdout);
  if (!requests) throw new Error(`wrk said: ${result.stdout}${result.stderr}`);
  return Number(requests[1]);
}

function measure(server: Server): void {
  wrk(server.port, 1); // warm-up, not recorded
  const started = performance.now();
  const requests = wrk(server.port, seconds);
  server.rps.push(requests / ((performance.now() - started) / 1000));
}

const TSGI = (extra: string[]) => (port: number): string[] => ['dist/runtime/main.js', '--http-socket', `127.0.0.1:${port}`, '--wsgi-file', 'bench/apps/hello_tsgi.js', '--master', '--processes', '1', ...extra];
const servers: Server[] = [];
try {
  if (!onlyStderr) servers.push(await start('tsgi --logto', process.execPath, (port, file) => [...TSGI([])(port), '--logto', file]));
  servers.push(await start('tsgi 2>file', process.execPath, TSGI([]), true));
  const base = process.env.TSGI_BASE_ROOT;
  if (base) servers.push(await start('tsgi before, 2>file', process.execPath, (port) => TSGI([])(port).map((arg) => (arg === 'dist/runtime/main.js' ? join(base, 'dist/runtime/main.js') : arg)), true));
  if (!onlyStderr) {
    servers.push(await start('uWSGI --logto', 'uwsgi', (port, file) => ['--plugin', 'python3', '--master', '--processes', '1', '--listen', '1024', '--wsgi-file', join(APPS, 'hello.py'), '--http-socket', `127.0.0.1:${port}`, '--logto', file]));
    servers.push(await start('gunicorn --access-logfile', 'gunicorn', (port, file) => ['--workers', '1', '--bind', `127.0.0.1:${port}`, '--chdir', APPS, '--access-logfile', file, '--log-level', 'warning', 'hello:application']));
  }
  for (let round = 1; round <= rounds; round++) {
    const busy = await machineBusy();
    const order = servers.map((_, i) => servers[(i + round - 1) % servers.length]!);
    for (const server of order) measure(server);
    console.log(`round ${round} (machine ${busy.toFixed(0)} % busy before): ${servers.map((s) => `${s.label} ${s.rps.at(-1)!.toFixed(0)}`).join(' | ')} req/s`);
  }
  for (const server of servers) console.log(`${server.label}: median ${median(server.rps).toFixed(0)} req/s, log ${(statSync(server.logFile).size / 1e6).toFixed(1)} MB`);
  const [subject] = servers;
  for (const reference of servers.slice(1)) {
    const ratios = subject!.rps.map((rps, i) => rps / reference.rps[i]!);
    console.log(`${subject!.label} / ${reference.label}: ${median(ratios).toFixed(2)}× (median of same-round ratios)`);
  }
} finally {
  await stopAll();
}
