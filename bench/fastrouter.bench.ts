/**
 * The FastRouter's cost, side by side in one run: nginx (wrk -t1 -c64 keep-alive in front) →
 * uwsgi_pass →
 *   direct     the workers (tsgi --master --processes 2 --socket W, bench/apps/hello_tsgi.js)
 *   tsgi_fr    tsgi --fastrouter F --fastrouter-to W → the same workers
 *   uwsgi_fr   real uWSGI --fastrouter F --fastrouter-to W → the same workers
 * in interleaved rounds (A B C A B C …): req/s and p50/p99 latency medians, the router's added
 * latency against `direct`, and tsgi's router against uWSGI's in the same place.
 *
 * Then the subscription servers: a sender blasts distinct-key subscribe datagrams for a few
 * seconds at tsgi's and at uWSGI's subscription server (each packet creates a key and a node,
 * which both log as "new node"), and the logged new nodes per second are the packets each
 * absorbed; tsgi's refresh path (the same node again and again) is read from its stats counter.
 *
 *   npm run build && node dist/bench/fastrouter.bench.js
 *   BENCH_ROUNDS=1 BENCH_SECONDS=2 node dist/bench/fastrouter.bench.js     # a smoke run
 *
 * Env: BENCH_ROUNDS (3), BENCH_SECONDS (8), BENCH_WARMUP (1), BENCH_CONNS (64),
 * BENCH_BLAST_SECONDS (3). Every process is started through test/helpers/peers.ts, which stops
 * it if this process dies.
 */
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSubscription } from '../runtime/routers/subscription/packet.js';
import { readJsonFrom } from '../test/helpers/fastrouter.js';
import { spawnPeer, startNginx, startUwsgi, uwsgiBinary, waitForPort, type Peer } from '../test/helpers/peers.js';
import { pickPort } from '../test/helpers/ports.js';
import { MAIN, ROOT, sleep, tempDir } from '../test/helpers/tsgi.js';
import { machineBusy, median } from './common.js';

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
const BLAST_SECONDS = Math.max(1, envNumber('BENCH_BLAST_SECONDS', 3));

interface Run { rps: number; p50: number; p99: number; errors: number; busy: number; requests: number; cpuUs: number }

function toMs(text: string | undefined): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(text ?? '');
  return match ? Number(match[1]) * { us: 0.001, ms: 1, s: 1000 }[match[2] as 'us' | 'ms' | 's'] : NaN;
}

function wrk(url: string, seconds: number): Omit<Run, 'busy' | 'cpuUs'> {
  const result = spawnSync('wrk', ['-t1', `-c${CONNS}`, `-d${seconds}s`, '--timeout', '5s', '--latency', url], { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  if (result.status !== 0) throw new Error(`wrk failed (${result.error?.message ?? result.stderr}): run \`bash .ci/install-deps\``);
  const out = result.stdout;
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/^Requests\/sec:\s+([\d.]+)/m.exec(out)?.[1] ?? NaN),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN),
    p50: toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1]),
    p99: toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1]),
    errors: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0) + (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0),
  };
}

const tsgi = (name: string, args: string[]) => spawnPeer(name, process.execPath, [MAIN, ...args], { cwd: join(ROOT, 'bench/apps') });

interface Config { id: string; label: string; router?: (port: number, workers: number) => Peer | Promise<Peer>; routerPid?: RegExp }
const CONFIGS: Config[] = [
  { id: 'direct', label: 'nginx → uwsgi_pass → 2 tsgi workers' },
  { id: 'tsgi_fr', label: 'nginx → tsgi --fastrouter (--fastrouter-to) → the same workers', router: (p, w) => tsgi('tsgi fastrouter', ['--fastrouter', `127.0.0.1:${p}`, '--fastrouter-to', `127.0.0.1:${w}`]), routerPid: /fastrouter ready \(pid (\d+)\)/ },
  { id: 'uwsgi_fr', label: 'nginx → uWSGI --fastrouter (--fastrouter-to) → the same workers', router: (p, w) => startUwsgi(['--plugin', 'fastrouter', '--master', '--fastrouter', `127.0.0.1:${p}`, '--fastrouter-to', `127.0.0.1:${w}`, '--disable-logging']), routerPid: /spawned uWSGI fastrouter 1 \(pid: (\d+)\)/ },
];

async function runOnce(config: Config, workers: number): Promise<Run> {
  const front = await pickPort();
  const routerPort = config.router ? await pickPort() : workers;
  const router = config.router ? await config.router(routerPort, workers) : undefined;
  try {
    if (router) await waitForPort(routerPort, router);
    // The master binds the port before its router process accepts: wait for the process itself.
    for (let i = 0; i < 100 && config.routerPid && router && !config.routerPid.test(router.output()); i++) await sleep(50);
    await sleep(200);
    const nginx = await startNginx({ ports: [front], http: `keepalive_requests 1000000;\nserver { listen 127.0.0.1:${front}; location / { include /etc/nginx/uwsgi_params; uwsgi_pass 127.0.0.1:${routerPort}; } }` });
    try {
      const url = `http://127.0.0.1:${front}/`;
      if (WARMUP > 0) wrk(url, WARMUP);
      const pid = config.routerPid && router ? Number(config.routerPid.exec(router.output())?.[1]) : NaN;
      const before = Number.isNaN(pid) ? 0 : cpuSeconds(pid);
      const busy = machineBusy(Math.min(2000, SECONDS * 500));
      const run = wrk(url, SECONDS);
      const cpuUs = Number.isNaN(pid) ? NaN : ((cpuSeconds(pid) - before) * 1e6) / run.requests;
      return { ...run, cpuUs, busy: await busy };
    } finally {
      await nginx.stop();
    }
  } finally {
    await router?.stop();
  }
}

/** Sends distinct-key subscribe datagrams as fast as the socket takes them, for `seconds`; returns how many. */
async function blast(port: number, seconds: number, address: string, distinct: boolean): Promise<number> {
  const socket = createSocket('udp4');
  const same = encodeSubscription({ key: 'blast.test', address, modifier1: 0, modifier2: 0, cores: 1, load: 0, weight: 1 }, false);
  const end = Date.now() + seconds * 1000;
  let sent = 0;
  while (Date.now() < end) {
    const batch: Array<Promise<void>> = [];
    for (let i = 0; i < 200; i++, sent++) {
      const packet = distinct ? encodeSubscription({ key: `k${sent}.blast`, address, modifier1: 0, modifier2: 0, cores: 1, load: 0, weight: 1 }, false) : same;
      batch.push(new Promise((resolve) => socket.send(packet, port, '127.0.0.1', () => resolve())));
    }
    await Promise.all(batch);
  }
  socket.close();
  return sent;
}

/**
 * Both servers log to a file, not to a pipe this process reads: a pipe it drains only between
 * send batches would block the server's log writes and measure that instead.
 */
function loggingToFile(name: string, command: string, args: string[], file: string): Peer {
  const quoted = [command, ...args].map((arg) => `'${arg.replaceAll("'", "'\\''")}'`).join(' ');
  return spawnPeer(name, '/bin/sh', ['-c', `exec ${quoted} > ${file} 2>&1`], { cwd: join(ROOT, 'bench/apps'), stopSignal: name.startsWith('uWSGI') ? 'SIGINT' : 'SIGTERM' });
}

async function waitForLine(file: string, text: string): Promise<void> {
  for (let i = 0; i < 200 && !(existsSync(file) && readFileSync(file, 'latin1').includes(text)); i++) await sleep(50);
}

const countIn = (file: string, pattern: RegExp) => (readFileSync(file, 'latin1').match(pattern) ?? []).length;

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** A blast, with the receiving process's CPU time over it. */
async function measuredBlast(pid: number, port: number, distinct: boolean): Promise<{ sent: number; cpu: number }> {
  const before = cpuSeconds(pid);
  const sent = await blast(port, BLAST_SECONDS, '127.0.0.1:9', distinct);
  await sleep(1000);
  return { sent, cpu: cpuSeconds(pid) - before };
}

async function subscriptionServers(): Promise<string[]> {
  const dir = tempDir();
  const udp = await pickPort();
  const stats = await pickPort();
  const tsgiLog = join(dir, 'tsgi.log');
  const router = loggingToFile('tsgi subscription server', process.execPath, [MAIN, '--fastrouter', `127.0.0.1:${await pickPort()}`, '--fastrouter-subscription-server', `127.0.0.1:${udp}`, '--fastrouter-stats', `127.0.0.1:${stats}`, '--subscription-tolerance', '600'], tsgiLog);
  await waitForLine(tsgiLog, 'fastrouter ready'); // the master binds before its router process receives
  const tsgiPid = Number(/fastrouter ready \(pid (\d+)\)/.exec(readFileSync(tsgiLog, 'latin1'))![1]);
  const refresh = await measuredBlast(tsgiPid, udp, false);
  const refreshed = (await readJsonFrom(stats)).subscription_packets as number;
  const distinct = await measuredBlast(tsgiPid, udp, true);
  const created = countIn(tsgiLog, /=> new node/g) - 1;
  await router.stop();
  const uwsgiUdp = await pickPort();
  const uwsgiLog = join(dir, 'uwsgi.log');
  const uwsgi = loggingToFile('uWSGI subscription server', uwsgiBinary(), ['--plugin', 'fastrouter', '--master', '--fastrouter', `127.0.0.1:${await pickPort()}`, '--fastrouter-subscription-server', `127.0.0.1:${uwsgiUdp}`, '--subscription-tolerance', '600'], uwsgiLog);
  await waitForLine(uwsgiLog, 'spawned uWSGI fastrouter');
  await sleep(300);
  const uwsgiPid = Number(/spawned uWSGI fastrouter 1 \(pid: (\d+)\)/.exec(readFileSync(uwsgiLog, 'latin1'))![1]);
  const uwsgiBlast = await measuredBlast(uwsgiPid, uwsgiUdp, true);
  const uwsgiCreated = countIn(uwsgiLog, /=> new node/g);
  await uwsgi.stop();
  const perSecond = (n: number) => Math.round(n / BLAST_SECONDS).toLocaleString('en');
  const row = (label: string, run: { sent: number; cpu: number }, absorbed: number) =>
    `| ${label} | ${perSecond(run.sent)} | ${perSecond(absorbed)} | ${((100 * absorbed) / run.sent).toFixed(0)} % | ${((run.cpu * 1e6) / Math.max(1, absorbed)).toFixed(1)} | ${Math.round(absorbed / Math.max(run.cpu, 1e-3)).toLocaleString('en')} |`;
  const tsgiCapacity = created / Math.max(distinct.cpu, 1e-3);
  const uwsgiCapacity = uwsgiCreated / Math.max(uwsgiBlast.cpu, 1e-3);
  return [
    `Subscription servers: a sender blasts subscribe datagrams for ${BLAST_SECONDS} s (as fast as its socket takes them); absorbed = what the server applied; capacity = absorbed per CPU second of the receiving process (the sender shares the 2 cores, so sent/s is the sender's limit, not the server's).`, '',
    '| subscription server | sent/s | absorbed/s | absorbed | CPU µs / packet | capacity (packets / CPU s) |', '|---|---:|---:|---:|---:|---:|',
    row('tsgi, refresh of one node (stats counter)', refresh, refreshed),
    row('tsgi, a new key + node per packet ("new node" lines)', distinct, created),
    row('uWSGI 2.0, a new key + node per packet ("new node" lines)', uwsgiBlast, uwsgiCreated),
    '', `tsgi/uWSGI capacity (new key + node): ${(tsgiCapacity / uwsgiCapacity).toFixed(2)}×`,
  ];
}

async function main(): Promise<void> {
  const workersPort = await pickPort();
  const workers = tsgi('tsgi workers', ['--master', '--processes', '2', '--socket', `127.0.0.1:${workersPort}`, '--module', 'hello_tsgi', '--disable-logging']);
  await waitForPort(workersPort, workers);
  await sleep(1000);
  const runs = new Map<string, Run[]>(CONFIGS.map((config) => [config.id, []]));
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const config of CONFIGS) {
        const run = await runOnce(config, workersPort);
        runs.get(config.id)!.push(run);
        console.error(`round ${round} ${config.id}: ${run.rps.toFixed(0)} req/s ${run.cpuUs.toFixed(1)} router µs/req p50 ${run.p50} ms p99 ${run.p99} ms errors ${run.errors} busy ${run.busy.toFixed(0)} %`);
      }
    }
  } finally {
    await workers.stop();
  }
  const med = (id: string, field: keyof Run) => median(runs.get(id)!.map((run) => run[field]));
  const lines = [`## FastRouter (\`node dist/bench/fastrouter.bench.js\`, ${ROUNDS} rounds × ${SECONDS} s, wrk -t1 -c${CONNS})`, '',
    '| path | req/s | p50 ms | p99 ms | added p50 / p99 vs direct | router CPU µs / request | errors |', '|---|---:|---:|---:|---:|---:|---:|'];
  for (const config of CONFIGS) {
    const added = config.id === 'direct' ? '—' : `${(med(config.id, 'p50') - med('direct', 'p50')).toFixed(2)} / ${(med(config.id, 'p99') - med('direct', 'p99')).toFixed(2)} ms`;
    lines.push(`| ${config.label} | ${med(config.id, 'rps').toFixed(0)} | ${med(config.id, 'p50').toFixed(2)} | ${med(config.id, 'p99').toFixed(2)} | ${added} | ${config.id === 'direct' ? '—' : med(config.id, 'cpuUs').toFixed(1)} | ${runs.get(config.id)!.reduce((sum, run) => sum + run.errors, 0)} |`);
  }
  const sameRound = runs.get('tsgi_fr')!.map((run, i) => run.rps / runs.get('uwsgi_fr')![i]!.rps);
  const vsDirect = runs.get('tsgi_fr')!.map((run, i) => run.rps / runs.get('direct')![i]!.rps);
  lines.push('', `tsgi router / uWSGI router req/s, per round: ${sameRound.map((r) => r.toFixed(2)).join(', ')} (median ${median(sameRound).toFixed(2)}×)`);
  const cpuRatio = runs.get('tsgi_fr')!.map((run, i) => run.cpuUs / runs.get('uwsgi_fr')![i]!.cpuUs);
  lines.push(`tsgi router / uWSGI router CPU per request, per round: ${cpuRatio.map((r) => r.toFixed(2)).join(', ')} (median ${median(cpuRatio).toFixed(2)}×)`);
  lines.push(`tsgi router / direct req/s, per round: ${vsDirect.map((r) => r.toFixed(2)).join(', ')} (median ${median(vsDirect).toFixed(2)}×)`, '');
  lines.push(...(await subscriptionServers()));
  console.log(lines.join('\n'));
}

await main();
process.exit(0);
