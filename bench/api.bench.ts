/**
 * The api's own figures, measured inside a real tsgi worker (issue 4):
 * - signal round trip: raise → handler start, through the master (target ≤ 1 ms median);
 * - RPC calls/s, local and remote (uwsgi protocol, a connection per call) vs an HTTP round
 *   trip (a connection per request) to a raw node:http server.
 * Rounds are interleaved; medians are printed with the ratios.
 *
 *   node dist/bench/api.bench.js [rounds]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { fileURLToPath } from 'node:url';
import { median } from './common.js';
import { pickPort } from '../test/helpers/ports.js';
import { stopAll, track } from '../test/helpers/processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const rounds = Number(process.argv[2] ?? 3);

function start(command: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    track(args[0] ?? command, child, { output: () => output });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk;
      if (ready.test(output)) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${command} exited ${code}: ${output}`)));
  });
}

function fetchJson(port: number, path: string): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    get({ port, host: '127.0.0.1', path, agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve(JSON.parse(text) as Record<string, number>));
    }).on('error', reject);
  });
}


const http = await pickPort();
const uwsgiPort = await pickPort();
const nodePort = await pickPort();
await start(process.execPath, ['dist/runtime/main.js', '--http-socket', `127.0.0.1:${http}`, '--socket', `127.0.0.1:${uwsgiPort}`,
  '--chdir', 'bench/apps', '--module', 'api_bench', '--master', '--processes', '1', '--async', '16', '--disable-logging'], {}, /all 1 workers ready/);
await start(process.execPath, ['bench/apps/hello_http.cjs'], { PORT: String(nodePort), VERBOSE: '1' }, /listening/);
try {
  const figures: Record<string, number[]> = { signal_median_us: [], signal_p99_us: [], rpc_local: [], rpc_remote: [], http_roundtrip: [] };
  for (let round = 1; round <= rounds; round++) {
    const signal = await fetchJson(http, '/signal?n=2000');
    figures.signal_median_us!.push(signal.median_us!);
    figures.signal_p99_us!.push(signal.p99_us!);
    figures.rpc_local!.push((await fetchJson(http, '/rpc-local?n=200000')).per_second!);
    figures.rpc_remote!.push((await fetchJson(http, `/rpc-remote?n=3000&node=127.0.0.1:${uwsgiPort}`)).per_second!);
    figures.http_roundtrip!.push((await fetchJson(http, `/http?n=3000&port=${nodePort}`)).per_second!);
    console.log(`round ${round}: ${JSON.stringify(Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, v.at(-1)])))}`);
  }
  const m = Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, median(v)]));
  console.log(`\nmedians of ${rounds} rounds`);
  console.log(`signal raise → handler start: ${m.signal_median_us} µs median (p99 ${m.signal_p99_us} µs); target ≤ 1000 µs`);
  console.log(`RPC local: ${m.rpc_local} calls/s (${(m.rpc_local! / m.http_roundtrip!).toFixed(1)}× an HTTP round trip)`);
  console.log(`RPC remote: ${m.rpc_remote} calls/s (${(m.rpc_remote! / m.http_roundtrip!).toFixed(2)}× an HTTP round trip)`);
  console.log(`HTTP round trip to raw node:http (new connection each): ${m.http_roundtrip} req/s`);
} finally {
  await stopAll();
}
