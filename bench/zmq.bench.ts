/**
 * ZeroMQ/Mongrel2 figures, side by side with the uwsgi protocol path:
 *
 *  1. requests/s of bench/apps/hello_tsgi.js on one worker, driven by N concurrent clients
 *     through the Mongrel2 stand-in (PUSH/SUB, keep-alive: Content-Length and HTTP/1.1) and
 *     through uwsgi packets on a --socket (one connection per request, as nginx uwsgi_pass does),
 *     and, as the yardstick for the zmq handler, bench/peers/mongrel2_hello.py (a minimal
 *     single-threaded pyzmq handler, /usr/bin/python3 with python3-zmq) behind its own
 *     stand-in, so both handlers face the same peer in the same run;
 *     runs interleaved (zmq, uwsgi, zmq, …) for BENCH_ROUNDS rounds, medians reported, with the
 *     server's CPU time per request from /proc/PID/stat;
 *  2. 5,000 parked long-polls (/sleep?s=S of test/apps/green.js) on one worker with --async 5000,
 *     through each path: time until all are answered, and the worker's RSS idle, while all are
 *     parked, and at its peak (VmHWM) from /proc/PID/status.
 *
 * The clients run in this process; the server is one tsgi process (no master), so its pid is
 * the worker's.
 *
 *   npx tsc -p . && node dist/bench/zmq.bench.js
 *
 * Env: BENCH_ROUNDS (3), BENCH_SECONDS (5), BENCH_CONNS (64), BENCH_PARKED (5000),
 * BENCH_PARK_SECONDS (3); BENCH_PARKED=0 skips part 2, BENCH_UWSGI=0 the uwsgi path of part 1
 * (the tsgi / pyzmq rounds then come closer together in time), BENCH_ZEROMQ_JS=0 the handler on
 * zeromq.js sockets (TSGI_ZMQ_SOCKETS=zeromq.js: the path of an addon built without libzmq).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Mongrel2Peer } from '../test/helpers/mongrel2-peer.js';
import { FIXTURE_APPS, ROOT, sleep, startTsgi, type Server } from '../test/helpers/tsgi.js';
import { nginxLikeVars, uwsgiRequest } from '../test/helpers/uwsgi-client.js';
import { pickPort, pickPorts } from '../test/helpers/ports.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNS = Number(process.env.BENCH_CONNS ?? 64);
const PARKED = Number(process.env.BENCH_PARKED ?? 5000);
const PARK_SECONDS = Number(process.env.BENCH_PARK_SECONDS ?? 3);
const UWSGI = process.env.BENCH_UWSGI !== '0';
const ZEROMQ_JS = process.env.BENCH_ZEROMQ_JS !== '0';
const BENCH_APPS = join(ROOT, 'bench/apps');
const CLK_TCK = 100;

interface Target {
  name: string;
  server: Pick<Server, 'pid'>;
  /** One request, resolving with the response body. */
  request(path: string): Promise<string>;
  close(): Promise<void>;
}

async function zmqTarget(module: string, cwd: string, extra: string[], sockets: 'native' | 'zeromq.js' = 'native'): Promise<Target> {
  const pushAddress = `tcp://127.0.0.1:${await pickPort()}`;
  const subAddress = `tcp://127.0.0.1:${await pickPort()}`;
  const peer = await Mongrel2Peer.start(pushAddress, subAddress);
  const server = await startTsgi(['--zmq', `${pushAddress},${subAddress}`, '--module', module, '--disable-logging', ...extra], { cwd, ready: /pulling requests/, env: sockets === 'zeromq.js' ? { TSGI_ZMQ_SOCKETS: 'zeromq.js' } : {} });
  await peer.waitForHandlers(1);
  return {
    name: sockets === 'native' ? 'zmq (Mongrel2 peer)' : 'zmq (Mongrel2 peer, zeromq.js sockets)',
    server,
    async request(path) {
      const exchange = await peer.request(path).done(60_000);
      peer.forget(exchange.connId);
      return exchange.response().body.toString();
    },
    async close() {
      await server.stop();
      peer.close();
    },
  };
}

/** The pyzmq yardstick, behind a stand-in of its own (the same code as tsgi's). */
async function pyzmqTarget(): Promise<Target> {
  const [pushPort, subPort] = await pickPorts(2);
  const pushAddress = `tcp://127.0.0.1:${pushPort}`;
  const subAddress = `tcp://127.0.0.1:${subPort}`;
  const peer = await Mongrel2Peer.start(pushAddress, subAddress);
  const child = spawn('/usr/bin/python3', [join(ROOT, 'bench/peers/mongrel2_hello.py'), pushAddress, subAddress], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`mongrel2_hello.py exited (${code}): is python3-zmq installed?`)));
    child.stdout!.on('data', (chunk: Buffer) => chunk.includes('ready') && resolve());
  });
  await peer.waitForHandlers(1);
  return {
    name: 'zmq (pyzmq handler)',
    server: { pid: child.pid! },
    async request(path) {
      const exchange = await peer.request(path).done(60_000);
      peer.forget(exchange.connId);
      return exchange.response().body.toString();
    },
    async close() {
      child.kill();
      peer.close();
    },
  };
}

async function uwsgiTarget(module: string, cwd: string, extra: string[]): Promise<Target> {
  const port = await pickPort();
  const server = await startTsgi(['--socket', `127.0.0.1:${port}`, '--listen', '4096', '--module', module, '--disable-logging', ...extra], { cwd });
  return {
    name: 'uwsgi (--socket)',
    server,
    async request(path) {
      const response = await uwsgiRequest({ port, host: '127.0.0.1' }, nginxLikeVars('GET', path), undefined, { timeoutMs: 60_000 });
      return response.body.toString();
    },
    async close() {
      await server.stop();
    },
  };
}

/** utime + stime of a process, in ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** A VmXXX line of /proc/PID/status, in MiB. */
function memMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match![1]) / 1024;
}

/** CONNS clients sending requests back to back for `seconds`. */
async function throughput(target: Target, seconds: number): Promise<{ rps: number; cpuUsPerRequest: number; peerUsPerRequest: number }> {
  let done = 0;
  let running = true;
  const cpuBefore = cpuMs(target.server.pid);
  // This process is the peer (Mongrel2 stand-in or uwsgi client) and the clients: if it uses a
  // whole core, the peer and not the server sets the req/s.
  const peerBefore = process.cpuUsage();
  const started = performance.now();
  const client = async () => {
    while (running) {
      const body = await target.request('/');
      if (body !== 'Hello World') throw new Error(`${target.name}: unexpected body ${JSON.stringify(body)}`);
      done++;
    }
  };
  const clients = Array.from({ length: CONNS }, client);
  await sleep(seconds * 1000);
  running = false;
  const elapsed = (performance.now() - started) / 1000;
  const counted = done;
  const cpu = cpuMs(target.server.pid) - cpuBefore;
  const peer = process.cpuUsage(peerBefore);
  await Promise.all(clients);
  return { rps: counted / elapsed, cpuUsPerRequest: (cpu * 1000) / counted, peerUsPerRequest: (peer.user + peer.system) / counted };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function requestsPerSecond(): Promise<void> {
  const targets = [await zmqTarget('hello_tsgi', BENCH_APPS, []), await pyzmqTarget()];
  // The fallback path too (the addon built without libzmq), in the same rounds: before/after.
  if (ZEROMQ_JS) targets.push(await zmqTarget('hello_tsgi', BENCH_APPS, [], 'zeromq.js'));
  if (UWSGI) targets.push(await uwsgiTarget('hello_tsgi', BENCH_APPS, []));
  const results = new Map<string, Array<{ rps: number; cpuUsPerRequest: number; peerUsPerRequest: number }>>();
  try {
    for (const target of targets) await throughput(target, 1); // warm-up
    for (let round = 1; round <= ROUNDS; round++) {
      for (const target of targets) {
        const result = await throughput(target, SECONDS);
        (results.get(target.name) ?? results.set(target.name, []).get(target.name)!).push(result);
        console.log(`  round ${round} ${target.name}: ${result.rps.toFixed(0)} req/s, ${result.cpuUsPerRequest.toFixed(1)} µs server CPU/request, ${result.peerUsPerRequest.toFixed(1)} µs peer+client CPU/request`);
      }
    }
  } finally {
    for (const target of targets) await target.close();
  }
  console.log(`\nhello_tsgi, 1 worker, ${CONNS} concurrent clients, ${SECONDS} s × ${ROUNDS} rounds interleaved (medians):\n`);
  console.log('| path | req/s | server CPU µs/req | runs (req/s) |');
  console.log('|---|---:|---:|---|');
  for (const [name, runs] of results) {
    console.log(`| ${name} | ${median(runs.map((r) => r.rps)).toFixed(0)} | ${median(runs.map((r) => r.cpuUsPerRequest)).toFixed(1)} | ${runs.map((r) => r.rps.toFixed(0)).join(', ')} |`);
  }
  // The ratio of each round (the two ran back to back), then its median: load drifts between rounds.
  const tsgi = results.get('zmq (Mongrel2 peer)')!;
  const python = results.get('zmq (pyzmq handler)')!;
  const ratios = tsgi.map((run, i) => run.rps / python[i]!.rps);
  console.log(`\ntsgi zmq handler / pyzmq handler: ${median(ratios).toFixed(2)}× (median; rounds ${ratios.map((r) => r.toFixed(2)).join(', ')})`);
  const fallback = results.get('zmq (Mongrel2 peer, zeromq.js sockets)');
  if (fallback !== undefined) {
    const before = fallback.map((run, i) => run.rps / python[i]!.rps);
    console.log(`tsgi zmq handler on zeromq.js sockets / pyzmq handler: ${median(before).toFixed(2)}× (median; rounds ${before.map((r) => r.toFixed(2)).join(', ')})`);
  }
}

async function parkedLongPolls(): Promise<void> {
  const rows: string[] = [];
  for (const make of [zmqTarget, uwsgiTarget]) {
    const target = await make('green', FIXTURE_APPS, ['--async', String(PARKED)]);
    try {
      const pid = target.server.pid;
      await target.request('/array'); // app loaded and warm
      await sleep(200);
      const idle = memMiB(pid, 'VmRSS');
      const started = performance.now();
      let answered = 0;
      const all = Promise.all(Array.from({ length: PARKED }, () => target.request(`/sleep?s=${PARK_SECONDS}`).then((body) => {
        if (body === 'slept\n') answered++;
      })));
      await sleep((PARK_SECONDS * 1000) * 0.8);
      const parked = memMiB(pid, 'VmRSS');
      await all;
      const elapsed = (performance.now() - started) / 1000;
      const peak = memMiB(pid, 'VmHWM');
      rows.push(`| ${target.name} | ${answered}/${PARKED} | ${elapsed.toFixed(2)} s | ${idle.toFixed(1)} | ${parked.toFixed(1)} | ${peak.toFixed(1)} | ${(((parked - idle) * 1024) / PARKED).toFixed(1)} |`);
      console.log(`  ${rows.at(-1)}`);
    } finally {
      await target.close();
    }
  }
  console.log(`\n${PARKED} parked /sleep?s=${PARK_SECONDS} long-polls on one worker (--async ${PARKED}):\n`);
  console.log('| path | answered | all answered after | RSS idle MiB | RSS parked MiB | peak RSS (VmHWM) MiB | KiB per parked request |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) console.log(row);
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`node ${process.version}, ${cpus().length} CPUs, load average at start: ${loadavg()}`);
await requestsPerSecond();
console.log('');
if (PARKED > 0) await parkedLongPolls();
console.log(`\nload average at end: ${loadavg()}`);
process.exit(0);
