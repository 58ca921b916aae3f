/**
 * Processes vs threads vs async cores, side by side on this machine's cores: the same number of
 * concurrency units (request slots) as `--processes N`, `--threads N` (one process) and
 * `--async N` (one process, one thread), all started at once and measured in interleaved
 * rounds with wrk over HTTP keep-alive, for three workloads of bench/apps/threads_bench.js:
 * a CPU-bound request (/cpu, ~1 ms of integer work), an I/O-bound long-poll (/poll, a 200 ms
 * green sleep, one connection per unit) and hello (/). Per configuration and workload: median
 * requests/s and p99 (wrk --latency), and the instance's RSS (master + workers + threads, from
 * /proc) divided by the units, measured after the I/O-bound run.
 *
 *   npm run build && node dist/bench/threads.bench.js [units=4] [rounds=3] [seconds=4]
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machineBusy, median } from './common.js';
import { pickPort } from '../test/helpers/ports.js';
import { stopAll, track } from '../test/helpers/processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const units = Number(process.argv[2] ?? 4);
const rounds = Number(process.argv[3] ?? 3);
const seconds = Number(process.argv[4] ?? 4);

const WORKLOADS = [
  { name: 'cpu', path: '/cpu', connections: 16 },
  { name: 'longpoll', path: '/poll', connections: units },
  { name: 'hello', path: '/', connections: 64 },
] as const;
type Workload = (typeof WORKLOADS)[number]['name'];

interface Instance {
  label: string;
  port: number;
  masterPid: number;
  rps: Record<Workload, number[]>;
  p99: Record<Workload, number[]>;
  rssPerUnit: number[];
}

async function start(label: string, extra: string[]): Promise<Instance> {
  const port = await pickPort();
  const args = ['dist/runtime/main.js', '--http-socket', `127.0.0.1:${port}`, '--wsgi-file', 'bench/apps/threads_bench.js', '--master', '--disable-logging', ...extra];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  track(label, child, { output: () => output });
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk;
      if (/all \d+ workers ready/.test(output)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${label} exited ${code}: ${output}`)));
  });
  const empty = () => ({ cpu: [], longpoll: [], hello: [] });
  return { label, port, masterPid: child.pid!, rps: empty(), p99: empty(), rssPerUnit: [] };
}

/** Resident memory of a process and its descendants (kB → bytes); threads share their process's. */
function treeRss(pid: number): number {
  const rssOf = (p: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'latin1'))?.[1] ?? 0) * 1024;
  const children = (p: number) => {
    try {
      return readFileSync(`/proc/${p}/task/${p}/children`, 'latin1').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  let total = 0;
  const pending = [pid];
  for (let p = pending.pop(); p !== undefined; p = pending.pop()) {
    total += rssOf(p);
    pending.push(...children(p));
  }
  return total;
}

/** wrk's 99th percentile line ("99%  12.34ms") in ms. */
function p99Ms(out: string): number {
  const match = /99%\s+([\d.]+)(us|ms|s)\b/.exec(out);
  if (!match) return NaN;
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
}

function wrk(port: number, path: string, connections: number, duration: number): { rps: number; p99: number } {
  const result = spawnSync('wrk', ['-t1', `-c${connections}`, `-d${duration}s`, '--latency', `http://127.0.0.1:${port}${path}`], { encoding: 'utf8', timeout: (duration + 30) * 1000 });
  if (result.error) throw new Error(`wrk failed to run: ${result.error.message}`);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(result.stdout);
  if (!rps) throw new Error(`wrk said: ${result.stdout}${result.stderr}`);
  return { rps: Number(rps[1]), p99: p99Ms(result.stdout) };
}

function measure(instance: Instance, workload: (typeof WORKLOADS)[number]): void {
  wrk(instance.port, workload.path, workload.connections, 1); // warm-up, not recorded
  const { rps, p99 } = wrk(instance.port, workload.path, workload.connections, seconds);
  instance.rps[workload.name].push(rps);
  instance.p99[workload.name].push(p99);
  if (workload.name === 'longpoll') instance.rssPerUnit.push(treeRss(instance.masterPid) / units);
}

const instances = [
  await start(`processes ${units}`, ['--processes', String(units)]),
  await start(`threads ${units}`, ['--processes', '1', '--threads', String(units)]),
  await start(`async ${units}`, ['--processes', '1', '--async', String(units)]),
];
try {
  for (let round = 1; round <= rounds; round++) {
    const busy = await machineBusy();
    const order = round % 2 === 1 ? instances : [...instances].reverse();
    for (const workload of WORKLOADS) for (const instance of order) measure(instance, workload);
    console.log(`round ${round} (machine ${busy.toFixed(0)} % busy before): ${instances.map((i) => `${i.label}: ${WORKLOADS.map((w) => `${w.name} ${i.rps[w.name].at(-1)!.toFixed(0)}/s p99 ${i.p99[w.name].at(-1)!.toFixed(1)} ms`).join(', ')}`).join(' | ')}`);
  }
  console.log(`\n| configuration (${units} units) | ${WORKLOADS.map((w) => `${w.name} req/s | ${w.name} p99 ms`).join(' | ')} | RSS per unit (MB) |`);
  console.log(`|---|${WORKLOADS.map(() => '---:|---:').join('|')}|---:|`);
  for (const i of instances) {
    console.log(`| ${i.label} | ${WORKLOADS.map((w) => `${median(i.rps[w.name]).toFixed(0)} | ${median(i.p99[w.name]).toFixed(1)}`).join(' | ')} | ${(median(i.rssPerUnit) / 1e6).toFixed(1)} |`);
  }
  const [p, t, a] = instances as [Instance, Instance, Instance];
  const ratio = (x: Instance, y: Instance, w: Workload) => (median(x.rps[w]) / median(y.rps[w])).toFixed(2);
  console.log(`\nthreads/processes req/s: ${WORKLOADS.map((w) => `${w.name} ${ratio(t, p, w.name)}`).join(', ')}; RSS per unit ${(median(t.rssPerUnit) / median(p.rssPerUnit)).toFixed(2)}`);
  console.log(`async/processes req/s: ${WORKLOADS.map((w) => `${w.name} ${ratio(a, p, w.name)}`).join(', ')}; RSS per unit ${(median(a.rssPerUnit) / median(p.rssPerUnit)).toFixed(2)}`);
} finally {
  await stopAll();
}
