/**
 * What --harakiri costs per request: hello over HTTP keep-alive (`wrk -t1 -c64`), one worker,
 * without harakiri (A) and with `--harakiri 30` (B), both servers up at once and measured in
 * alternating rounds (A B A B …). Per round: requests/s from wrk, and the worker's CPU per
 * request from /proc/PID/stat (utime + stime). Prints the medians and the B/A ratios; the
 * target is ≤ 2 % (the sweep is a 1 s timer, the request path does nothing more).
 *
 *   node dist/bench/harakiri.bench.js [rounds] [seconds]
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machineBusy, median } from './common.js';
import { pickPort } from '../test/helpers/ports.js';
import { stopAll, track } from '../test/helpers/processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const rounds = Number(process.argv[2] ?? 4);
const seconds = Number(process.argv[3] ?? 5);
const TICK_US = 1e6 / 100; // USER_HZ

interface Instance { label: string; port: number; workerPid: number; rps: number[]; cpuUs: number[] }

async function start(label: string, extra: string[]): Promise<Instance> {
  const port = await pickPort();
  const args = ['dist/runtime/main.js', '--http-socket', `127.0.0.1:${port}`, '--wsgi-file', 'bench/apps/hello_tsgi.js', '--master', '--processes', '1', '--disable-logging', ...extra];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  track(label, child, { output: () => output });
  const workerPid = await new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk;
      const ready = /\] ready \(pid (\d+)\)/.exec(output);
      if (ready) resolve(Number(ready[1]));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${label} exited ${code}: ${output}`)));
  });
  return { label, port, workerPid, rps: [], cpuUs: [] };
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
}

function wrk(port: number, duration: number): number {
  const result = spawnSync('wrk', ['-t1', '-c64', `-d${duration}s`, `http://127.0.0.1:${port}/`], { encoding: 'utf8', timeout: (duration + 30) * 1000 });
  if (result.error) throw new Error(`wrk failed to run: ${result.error.message}`);
  const requests = /(\d+) requests in/.exec(result.stdout);
  if (!requests) throw new Error(`wrk said: ${result.stdout}${result.stderr}`);
  return Number(requests[1]);
}

function measure(instance: Instance): void {
  wrk(instance.port, 1); // warm-up, not recorded
  const before = cpuTicks(instance.workerPid);
  const started = performance.now();
  const requests = wrk(instance.port, seconds);
  const elapsed = (performance.now() - started) / 1000;
  const ticks = cpuTicks(instance.workerPid) - before;
  instance.rps.push(requests / elapsed);
  instance.cpuUs.push((ticks * TICK_US) / requests);
}

const plain = await start('A: no harakiri', []);
const harakiri = await start('B: --harakiri 30', ['--harakiri', '30']);
try {
  for (let round = 1; round <= rounds; round++) {
    const busy = await machineBusy();
    for (const instance of round % 2 === 1 ? [plain, harakiri] : [harakiri, plain]) measure(instance);
    console.log(`round ${round}: A ${plain.rps.at(-1)!.toFixed(0)} req/s ${plain.cpuUs.at(-1)!.toFixed(2)} µs CPU/req | B ${harakiri.rps.at(-1)!.toFixed(0)} req/s ${harakiri.cpuUs.at(-1)!.toFixed(2)} µs CPU/req (machine ${busy.toFixed(0)} % busy before)`);
  }
  for (const instance of [plain, harakiri]) console.log(`${instance.label}: median ${median(instance.rps).toFixed(0)} req/s, ${median(instance.cpuUs).toFixed(2)} µs worker CPU per request`);
  console.log(`B/A throughput ${(median(harakiri.rps) / median(plain.rps)).toFixed(3)}, CPU per request ${(median(harakiri.cpuUs) / median(plain.cpuUs)).toFixed(3)} (target: within 2 %)`);
} finally {
  await stopAll();
}
