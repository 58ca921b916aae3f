/**
 * What a scrape costs with 64 workers' labels: one instance with `--processes 64`, scraped at
 * `/metrics` (`--metrics`, Prometheus text: 13 per-worker families and a 10-bucket histogram per
 * worker) and at its stats server (`--stats --stats-http`, uWSGI's JSON of the same 64 workers),
 * side by side in alternating rounds (A B A B …). Per round and endpoint: N scrapes one after
 * another, each on a new connection (as the stats server closes anyway), and the median wall
 * time of one scrape as the client sees it; plus the master's CPU per scrape (utime + stime from
 * /proc over the round), which is the cost to the instance. Prints medians and B/A ratios.
 *
 *   node dist/bench/metrics.bench.js [rounds] [scrapes per round] [workers]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { machineBusy, median } from './common.js';
import { pickPort } from '../test/helpers/ports.js';
import { stopAll, track } from '../test/helpers/processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const rounds = Number(process.argv[2] ?? 4);
const scrapes = Number(process.argv[3] ?? 200);
const workers = Number(process.argv[4] ?? 64);
const TICK_MS = 1000 / 100; // USER_HZ

interface Endpoint { label: string; port: number; path: string; ms: number[]; cpuMs: number[]; bytes: number }

async function startInstance(): Promise<{ pid: number; metricsPort: number; statsPort: number }> {
  const [port, metricsPort, statsPort] = [await pickPort(), await pickPort(), await pickPort()];
  const args = ['dist/runtime/main.js', '--http-socket', `127.0.0.1:${port}`, '--wsgi-file', 'bench/apps/hello_tsgi.js', '--master', '--processes', String(workers),
    '--disable-logging', '--metrics', `127.0.0.1:${metricsPort}`, '--stats', `127.0.0.1:${statsPort}`, '--stats-http'];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  track('tsgi', child, { output: () => output });
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk;
      if (output.includes(`all ${workers} workers ready`)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`tsgi exited ${code}: ${output}`)));
  });
  return { pid: child.pid!, metricsPort, statsPort };
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime
}

/** One scrape on a new connection: resolves with its body length. */
function scrape(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ port, host: '127.0.0.1', path, agent: false }, (response) => {
      let bytes = 0;
      response.on('data', (chunk: Buffer) => (bytes += chunk.length)).on('end', () => resolve(bytes)).on('error', reject);
    }).on('error', reject).end();
  });
}

async function measure(endpoint: Endpoint, masterPid: number): Promise<void> {
  for (let i = 0; i < 10; i++) await scrape(endpoint.port, endpoint.path); // warm-up
  const times: number[] = [];
  const before = cpuTicks(masterPid);
  for (let i = 0; i < scrapes; i++) {
    const started = performance.now();
    endpoint.bytes = await scrape(endpoint.port, endpoint.path);
    times.push(performance.now() - started);
  }
  endpoint.cpuMs.push(((cpuTicks(masterPid) - before) * TICK_MS) / scrapes);
  endpoint.ms.push(median(times));
}

const instance = await startInstance();
const json: Endpoint = { label: 'A: stats JSON (--stats-http)', port: instance.statsPort, path: '/', ms: [], cpuMs: [], bytes: 0 };
const metrics: Endpoint = { label: 'B: /metrics (--metrics)', port: instance.metricsPort, path: '/metrics', ms: [], cpuMs: [], bytes: 0 };
try {
  for (let round = 1; round <= rounds; round++) {
    const busy = await machineBusy();
    for (const endpoint of round % 2 === 1 ? [json, metrics] : [metrics, json]) await measure(endpoint, instance.pid);
    console.log(`round ${round}: A ${json.ms.at(-1)!.toFixed(3)} ms/scrape (master CPU ${json.cpuMs.at(-1)!.toFixed(3)} ms) | B ${metrics.ms.at(-1)!.toFixed(3)} ms/scrape (master CPU ${metrics.cpuMs.at(-1)!.toFixed(3)} ms) | B/A ${(metrics.ms.at(-1)! / json.ms.at(-1)!).toFixed(2)} (machine ${busy.toFixed(0)} % busy before)`);
  }
  for (const endpoint of [json, metrics]) {
    console.log(`${endpoint.label}: ${workers} workers, ${endpoint.bytes} bytes, median ${median(endpoint.ms).toFixed(3)} ms per scrape, master CPU ${median(endpoint.cpuMs).toFixed(3)} ms per scrape`);
  }
  const ratios = json.ms.map((ms, i) => metrics.ms[i]! / ms);
  console.log(`B/A wall time per scrape: median of same-round ratios ${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}); master CPU ${(median(metrics.cpuMs) / median(json.cpuMs)).toFixed(2)}`);
} finally {
  await stopAll();
}
