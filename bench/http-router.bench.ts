/**
 * HTTP routers side by side, each in front of the same kind of tsgi instance (2 workers on a
 * unix uwsgi socket, bench/apps/hello_tsgi.js): tsgi's `--http` (the router in the workers' own
 * instance), real uWSGI's `--http` router (`--http-keepalive --http-to` that socket), and one
 * nginx process with `uwsgi_pass`. Plus tsgi's router to the workers over TCP on 127.0.0.1 (what
 * it does without --socket, like uWSGI) to see what a per-request TCP connect costs against a
 * unix one. Measured with `wrk -t1 -c64 -d8s` (keep-alive clients) in interleaved rounds; besides
 * req/s it reports the router process's CPU time per request (utime+stime from /proc), which a
 * machine shared with other work disturbs less than throughput.
 *
 *   npx tsc -p . && node dist/bench/http-router.bench.js
 *   BENCH_ROUNDS=1 BENCH_SECONDS=2 node dist/bench/http-router.bench.js     # a smoke run
 *
 * Env: BENCH_ROUNDS (3), BENCH_SECONDS (8), BENCH_WARMUP (1), BENCH_CONNS (64).
 * Goals (issue 17): tsgi ≥ 1.5× uWSGI's router, ≥ 1.0× nginx.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { spawnPeer, startNginx, uwsgiHttpPluginArgs, waitForPort, type Peer } from '../test/helpers/peers.js';
import { pickPort } from '../test/helpers/ports.js';
import { ROOT, tempDir } from '../test/helpers/tsgi.js';
import { cpuSeconds, median, wrk } from './common.js';

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${raw}: expected a number ≥ 0`);
  return value;
}
const ROUNDS = Math.max(1, Math.round(envNumber('BENCH_ROUNDS', 3)));
const SECONDS = Math.max(1, envNumber('BENCH_SECONDS', 8));
const WARMUP = envNumber('BENCH_WARMUP', 1);
const CONNS = Math.max(1, Math.round(envNumber('BENCH_CONNS', 64)));
const MAIN = join(ROOT, 'dist/runtime/main.js');
const APPS = join(ROOT, 'bench/apps');

interface Started {
  peers: Peer[];
  port: number;
  /** The process that routes (its CPU time is measured). */
  routerPid: number;
  /** The tsgi workers behind it (their CPU time too: a router can make the workers' side dearer). */
  workerPids: number[];
}

interface Config {
  id: string;
  label: string;
  start(dir: string): Promise<Started>;
}

const WORKERS = ['--master', '--processes', '2', '--module', 'hello_tsgi', '--disable-logging'];

async function tsgiInstance(args: string[], readyLine: RegExp): Promise<{ peer: Peer; match: RegExpMatchArray }> {
  const peer = spawnPeer('tsgi', process.execPath, [MAIN, ...WORKERS, ...args], { cwd: APPS });
  for (let i = 0; i < 200; i++) {
    const match = peer.output().match(readyLine);
    if (match && /all 2 workers ready/.test(peer.output())) return { peer, match };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`tsgi did not get ready:\n${peer.output()}`);
}

function workerPids(peer: Peer): number[] {
  return [...peer.output().matchAll(/\[worker \d+\] ready \(pid (\d+)\)/g)].map((match) => Number(match[1]));
}

const ROUTER_READY = /http router ready \(pid (\d+)\)/;

const CONFIGS: Config[] = [
  {
    id: 'tsgi_http',
    label: 'tsgi --http --http-keepalive (router process of the workers\' instance) → unix socket → 2 tsgi workers',
    async start(dir) {
      const port = await pickPort();
      const { peer, match } = await tsgiInstance(['--socket', join(dir, 'w.sock'), '--http', `127.0.0.1:${port}`, '--http-keepalive'], ROUTER_READY);
      return { peers: [peer], port, routerPid: Number(match[1]), workerPids: workerPids(peer) };
    },
  },
  {
    id: 'uwsgi_http',
    label: 'uWSGI --http --http-keepalive --http-to (its http router process) → unix socket → 2 tsgi workers',
    async start(dir) {
      const port = await pickPort();
      const { peer } = await tsgiInstance(['--socket', join(dir, 'w.sock')], /all 2 workers ready/);
      const uwsgi = spawnPeer('uwsgi', 'uwsgi', [...uwsgiHttpPluginArgs(), '--master', '--http', `127.0.0.1:${port}`, '--http-keepalive', '--http-to', join(dir, 'w.sock'), '--disable-logging'], { cwd: dir, stopSignal: 'SIGINT' });
      await waitForPort(port, uwsgi);
      const pid = Number(/spawned uWSGI http 1 \(pid: (\d+)\)/.exec(uwsgi.output())?.[1]);
      return { peers: [uwsgi, peer], port, routerPid: pid, workerPids: workerPids(peer) };
    },
  },
  {
    id: 'nginx',
    label: 'nginx (1 process) → uwsgi_pass unix socket → 2 tsgi workers',
    async start(dir) {
      const port = await pickPort();
      const { peer } = await tsgiInstance(['--socket', join(dir, 'w.sock')], /all 2 workers ready/);
      const nginx = await startNginx({ ports: [port], http: `    keepalive_requests 1000000;\n    server {\n        listen 127.0.0.1:${port};\n        location / {\n            include /etc/nginx/uwsgi_params;\n            uwsgi_pass unix:${join(dir, 'w.sock')};\n        }\n    }` });
      return { peers: [nginx, peer], port, routerPid: nginx.pid, workerPids: workerPids(peer) };
    },
  },
  {
    id: 'tsgi_http_tcp',
    label: 'tsgi --http --http-keepalive with the workers on --socket 127.0.0.1:ephemeral (uWSGI\'s default: a TCP connect per request)',
    async start() {
      const port = await pickPort();
      const { peer, match } = await tsgiInstance(['--socket', `127.0.0.1:${await pickPort()}`, '--http', `127.0.0.1:${port}`, '--http-keepalive'], ROUTER_READY);
      return { peers: [peer], port, routerPid: Number(match[1]), workerPids: workerPids(peer) };
    },
  },
];

interface Run {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** Router CPU (user+system) per request, µs. */
  cpuUs: number;
  /** The 2 workers' CPU per request, µs. */
  workerCpuUs: number;
}


async function runOnce(config: Config, round: number, logDir: string): Promise<Run> {
  const dir = tempDir();
  const started = await config.start(dir);
  try {
    const url = `http://127.0.0.1:${started.port}/`;
    if (WARMUP > 0) wrk(url, WARMUP, CONNS);
    const workersCpu = () => started.workerPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    const before = cpuSeconds(started.routerPid);
    const workersBefore = workersCpu();
    const run = wrk(url, SECONDS, CONNS);
    const cpu = cpuSeconds(started.routerPid) - before;
    const workers = workersCpu() - workersBefore;
    writeFileSync(join(logDir, `${config.id}-r${round}.txt`), `${run.output}\nrouter pid ${started.routerPid}: ${cpu.toFixed(2)} s CPU\n`);
    return { rps: run.rps, p50Ms: run.p50Ms, p99Ms: run.p99Ms, errors: run.errors, cpuUs: (cpu / run.requests) * 1e6, workerCpuUs: (workers / run.requests) * 1e6 };
  } finally {
    for (const peer of started.peers) await peer.stop(10_000);
  }
}

async function main(): Promise<void> {
  const logDir = join(ROOT, 'bench', 'out', `http-router-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(logDir, { recursive: true });
  const runs = new Map<string, Run[]>(CONFIGS.map((config) => [config.id, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const config of CONFIGS) {
      const run = await runOnce(config, round, logDir);
      runs.get(config.id)!.push(run);
      process.stderr.write(`round ${round}/${ROUNDS} ${config.id}: ${run.rps.toFixed(0)} req/s, p50 ${run.p50Ms.toFixed(2)} ms, p99 ${run.p99Ms.toFixed(2)} ms, router ${run.cpuUs.toFixed(1)} µs CPU/request, workers ${run.workerCpuUs.toFixed(1)} µs, errors ${run.errors}\n`);
    }
  }
  const med = (id: string, field: keyof Run) => median(runs.get(id)!.map((run) => run[field]));
  const ratio = (a: string, b: string, goal: number) => {
    const paired = runs.get(a)!.map((run, i) => run.rps / runs.get(b)![i]!.rps);
    const value = med(a, 'rps') / med(b, 'rps');
    return `| ${a} / ${b} | ${value.toFixed(2)}× | ${paired.map((r) => r.toFixed(2)).join(', ')} | ${goal ? `≥ ${goal}× ${value >= goal ? 'met' : 'NOT met'}` : '—'} |`;
  };
  const report = [
    `# HTTP routers side by side (${new Date().toISOString()})`,
    '',
    `- ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; node ${process.version}; wrk -t1 -c${CONNS} -d${SECONDS}s, ${WARMUP} s warm-up, ${ROUNDS} interleaved rounds, medians; raw output in ${logDir}`,
    '',
    '| config | req/s median (runs) | p50 ms | p99 ms | router CPU µs/request | workers CPU µs/request | errors |',
    '|---|---|---|---|---|---|---|',
    ...CONFIGS.map((config) => {
      const list = runs.get(config.id)!;
      return `| ${config.id}: ${config.label} | **${med(config.id, 'rps').toFixed(0)}** (${list.map((r) => r.rps.toFixed(0)).join(', ')}) | ${med(config.id, 'p50Ms').toFixed(2)} | ${med(config.id, 'p99Ms').toFixed(2)} | ${med(config.id, 'cpuUs').toFixed(1)} | ${med(config.id, 'workerCpuUs').toFixed(1)} | ${list.reduce((s, r) => s + r.errors, 0)} |`;
    }),
    '',
    '| ratio (req/s) | of medians | per round | goal |',
    '|---|---|---|---|',
    ratio('tsgi_http', 'uwsgi_http', 1.5),
    ratio('tsgi_http', 'nginx', 1.0),
    ratio('tsgi_http_tcp', 'tsgi_http', 0),
    '',
    `load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (${cpus().length} CPUs, shared with other work)`,
  ].join('\n');
  writeFileSync(join(logDir, 'report.md'), `${report}\n`);
  process.stdout.write(`${report}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
