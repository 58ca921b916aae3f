/**
 * The Mongrel2 handlers behind a real Mongrel2 (Debian's `mongrel2-core`: /usr/bin/mongrel2 and
 * /usr/bin/m2sh; not installed by .ci/install-deps, so this is no test): one Mongrel2 server,
 * one handler route, and in turn, each connected alone, tsgi's handler on native libzmq sockets,
 * tsgi's handler on zeromq.js sockets (`TSGI_ZMQ_SOCKETS=zeromq.js`) and the minimal pyzmq
 * handler of bench/peers/mongrel2_hello.py (the yardstick of issue 13, item 18). wrk keep-alive
 * clients hit Mongrel2's HTTP port; the handler's CPU time per request comes from /proc.
 * bench/zmq.bench.ts measures the same handlers behind the wire-exact stand-in instead.
 *
 *   apt-get install mongrel2-core && npx tsc -p . && node dist/bench/zmq-mongrel2.bench.js
 *
 * Env: BENCH_ROUNDS (5), BENCH_SECONDS (4), BENCH_WARMUP (1), BENCH_CONNS (64).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { spawnPeer, waitForPort, type Peer } from '../test/helpers/peers.js';
import { pickPort } from '../test/helpers/ports.js';
import { ROOT, tempDir } from '../test/helpers/tsgi.js';
import { cpuSeconds, median, wrk } from './common.js';

const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 5));
const SECONDS = Math.max(1, Number(process.env.BENCH_SECONDS ?? 4));
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1);
const CONNS = Math.max(1, Number(process.env.BENCH_CONNS ?? 64));
const SERVER_UUID = 'f400bf85-4538-4f7a-8908-67e313d515c2';

interface Handler {
  id: string;
  label: string;
  start(push: string, sub: string): Peer;
}

const HANDLERS: Handler[] = [
  { id: 'native', label: 'tsgi --zmq, native libzmq sockets', start: (push, sub) => tsgiHandler(push, sub, {}) },
  { id: 'pyzmq', label: 'pyzmq, minimal single-threaded loop (bench/peers/mongrel2_hello.py)', start: (push, sub) => spawnPeer('pyzmq', '/usr/bin/python3', [join(ROOT, 'bench/peers/mongrel2_hello.py'), push, sub]) },
  { id: 'zeromq.js', label: 'tsgi --zmq, zeromq.js sockets', start: (push, sub) => tsgiHandler(push, sub, { TSGI_ZMQ_SOCKETS: 'zeromq.js' }) },
];

function tsgiHandler(push: string, sub: string, env: Record<string, string>): Peer {
  return spawnPeer('tsgi', process.execPath, [join(ROOT, 'dist/runtime/main.js'), '--zmq', `${push},${sub}`, '--chdir', join(ROOT, 'bench/apps'), '--module', 'hello_tsgi', '--disable-logging'], { env });
}

/** Mongrel2's run directory, its config loaded into config.sqlite by m2sh; Mongrel2 binds both handler sockets. */
async function startMongrel2(dir: string): Promise<{ mongrel2: Peer; port: number; push: string; sub: string }> {
  const [port, pushPort, subPort] = [await pickPort(), await pickPort(), await pickPort()];
  for (const sub of ['logs', 'run', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
  const [push, sub] = [`tcp://127.0.0.1:${pushPort}`, `tcp://127.0.0.1:${subPort}`];
  writeFileSync(join(dir, 'm2.conf'), [
    `hello = Handler(send_spec='${push}', send_ident='9a1e4c02-2d1b-4a55-bb1f-0c5e1c3e7a10', recv_spec='${sub}', recv_ident='')`,
    `main = Server(uuid='${SERVER_UUID}', chroot='./', access_log='/logs/access.log', error_log='/logs/error.log', pid_file='/run/mongrel2.pid',`,
    `  default_host='localhost', bind_addr='127.0.0.1', port=${port}, hosts=[Host(name='localhost', routes={'/': hello})])`,
    `settings = {'server.daemonize': 0, 'zeromq.threads': 1}`,
    'servers = [main]',
    '',
  ].join('\n'));
  const load = spawnSync('m2sh', ['load', '-config', 'm2.conf', '-db', 'config.sqlite'], { cwd: dir, encoding: 'utf8', env: { ...process.env, LOGNAME: process.env.LOGNAME ?? 'tsgi' } });
  if (load.status !== 0) throw new Error(`m2sh load failed (${load.status}): ${load.stderr}${load.stdout}`);
  const mongrel2 = spawnPeer('mongrel2', 'mongrel2', ['config.sqlite', SERVER_UUID], { cwd: dir, stopSignal: 'SIGINT' });
  await waitForPort(port, mongrel2);
  return { mongrel2, port, push, sub };
}

interface Run {
  rps: number;
  p99Ms: number;
  errors: number;
  /** The handler's CPU (user+system) per request, µs. */
  cpuUs: number;
  /** Mongrel2's CPU per request, µs, and its share of one core (it is single-threaded but for libzmq's I/O thread). */
  mongrel2Us: number;
  mongrel2Core: number;
}

async function runOnce(handler: Handler, m2: { mongrel2: Peer; port: number; push: string; sub: string }): Promise<Run> {
  const peer = handler.start(m2.push, m2.sub);
  try {
    for (let i = 0; !/pulling requests/.test(peer.output()); i++) {
      if (i > 400) throw new Error(`${handler.id} did not get ready:\n${peer.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const url = `http://127.0.0.1:${m2.port}/`;
    if (WARMUP > 0) wrk(url, WARMUP, CONNS);
    const [handlerBefore, mongrel2Before] = [cpuSeconds(peer.pid), cpuSeconds(m2.mongrel2.pid)];
    const run = wrk(url, SECONDS, CONNS);
    const mongrel2Seconds = cpuSeconds(m2.mongrel2.pid) - mongrel2Before;
    const cpuUs = ((cpuSeconds(peer.pid) - handlerBefore) * 1e6) / run.requests;
    return { rps: run.rps, p99Ms: run.p99Ms, errors: run.errors, cpuUs, mongrel2Us: (mongrel2Seconds * 1e6) / run.requests, mongrel2Core: mongrel2Seconds / SECONDS };
  } finally {
    await peer.stop();
  }
}

async function main(): Promise<void> {
  for (const binary of ['/usr/bin/mongrel2', '/usr/bin/m2sh', '/usr/bin/python3']) {
    if (!existsSync(binary)) throw new Error(`${binary} is missing: apt-get install mongrel2-core python3-zmq`);
  }
  const dir = tempDir();
  const m2 = await startMongrel2(dir);
  const runs = new Map<string, Run[]>(HANDLERS.map((handler) => [handler.id, []]));
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const handler of HANDLERS) {
        const run = await runOnce(handler, m2);
        runs.get(handler.id)!.push(run);
        process.stdout.write(`round ${round}/${ROUNDS} ${handler.id}: ${Math.round(run.rps)} req/s, p99 ${run.p99Ms.toFixed(2)} ms, handler ${run.cpuUs.toFixed(1)} µs CPU/request, Mongrel2 ${run.mongrel2Us.toFixed(1)} µs (${Math.round(run.mongrel2Core * 100)} % of a core), errors ${run.errors}\n`);
      }
    }
  } finally {
    await m2.mongrel2.stop();
  }
  const of = (id: string) => runs.get(id)!;
  const perRound = (a: string, b: string) => of(a).map((run, i) => run.rps / of(b)[i]!.rps);
  const ratioRow = (a: string, b: string, goal: string) => {
    const ratios = perRound(a, b);
    return `| ${a} / ${b} | ${median(ratios).toFixed(2)}× | ${ratios.map((r) => r.toFixed(2)).join(', ')} | ${goal} |`;
  };
  const report = [
    `# Mongrel2 handlers behind a real Mongrel2 (${new Date().toISOString()})`,
    '',
    `- mongrel2-core ${spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'mongrel2-core'], { encoding: 'utf8' }).stdout.trim() || '(version unknown)'}; ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; node ${process.version}; wrk -t1 -c${CONNS} -d${SECONDS}s, ${WARMUP} s warm-up, ${ROUNDS} interleaved rounds; run dir ${dir}`,
    '',
    '| handler | req/s median (rounds) | p99 ms | handler CPU µs/request | Mongrel2 CPU µs/request (share of a core) | errors |',
    '|---|---|---|---|---|---|',
    ...HANDLERS.map((handler) => {
      const list = of(handler.id);
      return `| ${handler.id}: ${handler.label} | **${Math.round(median(list.map((r) => r.rps)))}** (${list.map((r) => Math.round(r.rps)).join(', ')}) | ${median(list.map((r) => r.p99Ms)).toFixed(2)} | ${median(list.map((r) => r.cpuUs)).toFixed(1)} | ${median(list.map((r) => r.mongrel2Us)).toFixed(1)} (${Math.round(median(list.map((r) => r.mongrel2Core)) * 100)} %) | ${list.reduce((sum, r) => sum + r.errors, 0)} |`;
    }),
    '',
    '| ratio (req/s) | median of same-round ratios | per round | goal |',
    '|---|---|---|---|',
    ratioRow('native', 'pyzmq', '≥ 1.2× (issue 13, item 18)'),
    ratioRow('zeromq.js', 'pyzmq', '—'),
    ratioRow('native', 'zeromq.js', '—'),
    '',
    `load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (${cpus().length} CPUs)`,
  ].join('\n');
  writeFileSync(join(dir, 'report.md'), `${report}\n`);
  process.stdout.write(`${report}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
