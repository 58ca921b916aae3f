/**
 * What many apps cost. (1) The request path: hello over HTTP keep-alive (`wrk -t1 -c64`), one
 * worker each, measured in alternating rounds: `before` (BENCH_BASELINE=DIR, a built checkout
 * of an earlier commit, if given), `single` (this tsgi, one app: no mount table) and `multi`
 * (this tsgi with `--mount /x=…`: every request goes through the dispatcher's lookup). Per
 * round: requests/s and the worker's CPU per request (/proc utime + stime); printed as medians
 * and same-round ratios. (2) Loading: the worker's RSS and per-app load times with 0, 1 and 50
 * mounts of the same small app (each mount its own module graph).
 *
 *   BENCH_BASELINE=/path/to/old/checkout node dist/bench/mounts.bench.js [rounds] [seconds]
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './common.js';
import { pickPort } from '../test/helpers/ports.js';
import { stopAll, track } from '../test/helpers/processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const rounds = Number(process.argv[2] ?? 6);
const seconds = Number(process.argv[3] ?? 3);
const TICK_US = 1e6 / 100; // USER_HZ

interface Instance { label: string; port: number; workerPid: number; output: () => string; rps: number[]; cpuUs: number[] }

async function start(label: string, root: string, extra: string[]): Promise<Instance> {
  const port = await pickPort();
  const args = [resolve(root, 'dist/runtime/main.js'), '--http-socket', `127.0.0.1:${port}`, '--chdir', resolve(ROOT, 'bench/apps'), '--module', 'hello_tsgi',
    '--master', '--processes', '1', '--disable-logging', ...extra];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  track(label, child, { output: () => output });
  const workerPid = await new Promise<number>((done, fail) => {
    const onData = (chunk: Buffer) => {
      output += chunk;
      const ready = /\] ready \(pid (\d+)\)/.exec(output);
      if (ready) done(Number(ready[1]));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => fail(new Error(`${label} exited ${code}: ${output}`)));
  });
  return { label, port, workerPid, output: () => output, rps: [], cpuUs: [] };
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function wrk(port: number, duration: number): number {
  const result = spawnSync('wrk', ['-t1', '-c64', `-d${duration}s`, `http://127.0.0.1:${port}/`], { encoding: 'utf8', timeout: (duration + 30) * 1000 });
  const requests = /(\d+) requests in/.exec(result.stdout ?? '');
  if (!requests) throw new Error(`wrk: ${result.error?.message ?? ''}${result.stdout}${result.stderr}`);
  return Number(requests[1]);
}

function measure(instance: Instance): void {
  wrk(instance.port, 1); // warm-up, not recorded
  const before = cpuTicks(instance.workerPid);
  const started = performance.now();
  const requests = wrk(instance.port, seconds);
  instance.rps.push(requests / ((performance.now() - started) / 1000));
  instance.cpuUs.push(((cpuTicks(instance.workerPid) - before) * TICK_US) / requests);
}

function sameRound(subject: Instance, reference: Instance, metric: 'rps' | 'cpuUs'): string {
  const ratios = subject[metric].map((value, i) => value / reference[metric][i]!);
  return `${median(ratios).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`;
}

const baseline = process.env.BENCH_BASELINE;
try {
  const instances = [
    ...(baseline ? [await start('before', baseline, [])] : []),
    await start('single', ROOT, []),
    await start('multi', ROOT, ['--mount', '/x=hello_tsgi.js']),
  ];
  for (let round = 1; round <= rounds; round++) {
    for (const instance of round % 2 === 1 ? instances : [...instances].reverse()) measure(instance);
    console.log(`round ${round}: ${instances.map((i) => `${i.label} ${i.rps.at(-1)!.toFixed(0)} req/s ${i.cpuUs.at(-1)!.toFixed(2)} µs`).join(' | ')}`);
  }
  for (const i of instances) console.log(`${i.label}: median ${median(i.rps).toFixed(0)} req/s, ${median(i.cpuUs).toFixed(2)} µs worker CPU per request`);
  const reference = instances[0]!;
  for (const i of instances.slice(1)) console.log(`${i.label}/${reference.label} same-round: req/s ${sameRound(i, reference, 'rps')}, CPU per request ${sameRound(i, reference, 'cpuUs')}`);
  await stopAll();
  for (const mounts of [0, 1, 50]) {
    const extra = Array.from({ length: mounts }, (_, n) => ['--mount', `/a${n + 1}=hello_tsgi.js`]).flat();
    const instance = await start(`${mounts} mounts`, ROOT, extra);
    await new Promise((done) => setTimeout(done, 500));
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${instance.workerPid}/status`, 'latin1'))![1]) / 1024;
    const loads = [...instance.output().matchAll(/\(mountpoint='\/a\d+'\) ready in (\d+) ms/g)].map((match) => Number(match[1]));
    const rest = loads.slice(1);
    console.log(`${mounts} mounts: worker RSS ${rss.toFixed(1)} MiB; first mount ${loads[0] ?? '-'} ms, the others median ${rest.length ? median(rest) : '-'} ms`);
    await stopAll();
  }
} finally {
  await stopAll();
}
