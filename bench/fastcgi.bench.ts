/**
 * FastCGI vs uwsgi behind nginx, side by side: the same hello app (bench/apps/hello_tsgi.js) in
 * one single-process tsgi, with one nginx process in front, measured with
 * `wrk -t1 -c64 -d8s` (keep-alive clients) in interleaved rounds (A B C A B C …); medians and
 * the ratio against nginx → uwsgi_pass → tsgi (target ≥ 0.9×).
 *
 *   npx tsc -p . && node dist/bench/fastcgi.bench.js
 *   BENCH_ROUNDS=1 BENCH_SECONDS=2 node dist/bench/fastcgi.bench.js     # a smoke run
 *
 * Env: BENCH_ROUNDS (3), BENCH_SECONDS (8), BENCH_WARMUP (1 s of unrecorded wrk before each run),
 * BENCH_CONNS (64), BENCH_ASYNC (tsgi --async, default 1 like bench/run.ts ng_tsgi).
 * Every run starts its nginx and tsgi fresh (helpers from test/helpers/peers.ts, which stop
 * them if this process dies) and checks nginx's error log stayed clean.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { nginxBinary, spawnPeer, startNginx, waitForPort, type Nginx, type Peer } from '../test/helpers/peers.js';
import { ROOT, tempDir } from '../test/helpers/tsgi.js';
import { pickPort } from '../test/helpers/ports.js';

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
const ASYNC = Math.max(1, Math.round(envNumber('BENCH_ASYNC', 1)));
const TARGET = 0.9;

/**
 * Other people rebuild dist/ while a run takes its minutes: unless BENCH_SNAPSHOT=0, the compiled
 * tsgi, its addon, package.json and bench/apps are copied once at start (as bench/run.ts does).
 */
function snapshot(): string {
  if (process.env.BENCH_SNAPSHOT === '0') return ROOT;
  const snap = join(tempDir(), 'tsgi');
  for (const part of ['dist/runtime', 'dist/green', 'dist/api', 'build/Release', 'bench/apps']) {
    if (existsSync(join(ROOT, part))) cpSync(join(ROOT, part), join(snap, part), { recursive: true });
  }
  cpSync(join(ROOT, 'package.json'), join(snap, 'package.json'));
  if (existsSync(join(ROOT, 'node_modules'))) symlinkSync(join(ROOT, 'node_modules'), join(snap, 'node_modules'));
  return snap;
}
const TSGI_ROOT = snapshot();

interface Config {
  id: string;
  label: string;
  /** tsgi arguments (U = the upstream port) and nginx's location block. */
  tsgi: (upstream: number) => string[];
  location: (upstream: number) => string;
  upstreamBlock?: (upstream: number) => string;
}

const CONFIGS: Config[] = [
  {
    id: 'ng_uwsgi',
    label: 'nginx → uwsgi_pass → tsgi --socket (uwsgi; a connection per request)',
    tsgi: (u) => ['--socket', `127.0.0.1:${u}`],
    location: (u) => `include /etc/nginx/uwsgi_params;\n            uwsgi_pass 127.0.0.1:${u};`,
  },
  {
    id: 'ng_fcgi_keep',
    label: `nginx → fastcgi_pass (upstream keepalive ${CONNS}, fastcgi_keep_conn on) → tsgi --protocol fastcgi`,
    tsgi: (u) => ['--socket', `127.0.0.1:${u}`, '--protocol', 'fastcgi'],
    upstreamBlock: (u) => `    upstream tsgi_fastcgi {\n        server 127.0.0.1:${u};\n        keepalive ${CONNS};\n    }\n`,
    location: () => 'include /etc/nginx/fastcgi_params;\n            fastcgi_keep_conn on;\n            fastcgi_pass tsgi_fastcgi;',
  },
  {
    id: 'ng_fcgi',
    label: 'nginx → fastcgi_pass (no keep-alive: a connection per request) → tsgi --protocol fastcgi',
    tsgi: (u) => ['--socket', `127.0.0.1:${u}`, '--protocol', 'fastcgi'],
    location: (u) => `include /etc/nginx/fastcgi_params;\n            fastcgi_pass 127.0.0.1:${u};`,
  },
];

interface WrkRun {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  nginxErrors: number;
}

function toMs(text: string | undefined): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(text ?? '');
  return match ? Number(match[1]) * { us: 0.001, ms: 1, s: 1000 }[match[2] as 'us' | 'ms' | 's'] : NaN;
}

function wrk(url: string, seconds: number): { output: string; run: Omit<WrkRun, 'nginxErrors'> } {
  const args = ['-t1', `-c${CONNS}`, `-d${seconds}s`, '--timeout', '5s', '--latency', url];
  const result = spawnSync('wrk', args, { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  if (result.error) throw new Error(`wrk failed to run (${result.error.message}): run \`bash .ci/install-deps\``);
  if (result.status !== 0) throw new Error(`wrk exited ${result.status}: ${result.stderr}`);
  const output = result.stdout;
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0);
  return {
    output,
    run: {
      rps: Number(/^Requests\/sec:\s+([\d.]+)/m.exec(output)?.[1] ?? NaN),
      p50Ms: toMs(/^\s+50%\s+(\S+)/m.exec(output)?.[1]),
      p99Ms: toMs(/^\s+99%\s+(\S+)/m.exec(output)?.[1]),
      errors: non2xx + (errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0),
    },
  };
}

async function runOnce(config: Config, round: number, attempt: number, logDir: string): Promise<WrkRun | null> {
  const upstream = await pickPort();
  const port = await pickPort();
  let server: Peer | undefined;
  let nginx: Nginx | undefined;
  try {
    const args = [join(TSGI_ROOT, 'dist/runtime/main.js'), ...config.tsgi(upstream), '--module', 'hello_tsgi', '--disable-logging', '--async', String(ASYNC)];
    server = spawnPeer('tsgi', process.execPath, args, { cwd: join(TSGI_ROOT, 'bench/apps') });
    await waitForPort(upstream, server);
    nginx = await startNginx({
      ports: [port],
      logLevel: 'notice',
      http: `    keepalive_timeout 75s;
    keepalive_requests 1000000;
${config.upstreamBlock?.(upstream) ?? ''}    server {
        listen 127.0.0.1:${port};
        location / {
            ${config.location(upstream)}
        }
    }`,
    });
    const url = `http://127.0.0.1:${port}/`;
    if (WARMUP > 0) wrk(url, WARMUP);
    const { output, run } = wrk(url, SECONDS);
    const errorLines = nginx.errorLog().split('\n').filter((line) => /\[(error|crit|alert|emerg)\]/.test(line));
    // Something else on the machine may stop our nginx or tsgi mid-run (wrk then counts refused
    // reconnects as read/write errors): such a run measures nothing and is run again.
    const died = [nginx, server].filter((peer) => !alive(peer.pid)).map((peer) => `${peer.name} (pid ${peer.pid}) is gone`);
    const signals = nginx.errorLog().split('\n').filter((line) => /signal \d+ .*received/.test(line));
    writeFileSync(join(logDir, `${config.id}-r${round}${attempt > 0 ? `-retry${attempt}` : ''}.txt`),
      `${output}\n--- nginx errors (${errorLines.length}):\n${errorLines.slice(0, 20).join('\n')}\n--- died: ${died.join(', ') || 'none'}; ${signals.join('; ')}\n`);
    if (died.length > 0 || signals.length > 0) return null;
    return { ...run, nginxErrors: errorLines.length };
  } finally {
    if (nginx) await nginx.stop();
    if (server) await server.stop(10_000);
  }
}

/** wrk ran with spawnSync, so no 'exit' event was seen yet: ask /proc (a zombie is gone too). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  const logDir = join(ROOT, 'bench', 'out', `fastcgi-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(logDir, { recursive: true });
  const nginxVersion = spawnSync(nginxBinary(), ['-v'], { encoding: 'utf8' }).stderr.trim();
  const runs = new Map<string, WrkRun[]>(CONFIGS.map((c) => [c.id, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const config of CONFIGS) {
      let run: WrkRun | null = null;
      for (let attempt = 0; run === null; attempt++) {
        if (attempt > 2) throw new Error(`${config.id}: nginx or tsgi was stopped from outside in 3 runs in a row (see ${logDir})`);
        run = await runOnce(config, round, attempt, logDir);
        if (run === null) process.stderr.write(`round ${round}/${ROUNDS} ${config.id}: nginx or tsgi stopped during the run (not by this bench): running it again\n`);
      }
      runs.get(config.id)!.push(run);
      process.stderr.write(`round ${round}/${ROUNDS} ${config.id}: ${run.rps.toFixed(0)} req/s, p50 ${run.p50Ms.toFixed(2)} ms, p99 ${run.p99Ms.toFixed(2)} ms, errors ${run.errors}, nginx errors ${run.nginxErrors}\n`);
    }
  }
  const rps = (id: string) => median(runs.get(id)!.map((r) => r.rps));
  const lines = [
    `# FastCGI vs uwsgi behind nginx (${new Date().toISOString()})`,
    '',
    `- ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; node ${process.version}; ${nginxVersion}; one nginx process, one tsgi process (--async ${ASYNC}, --disable-logging), bench/apps/hello_tsgi.js`,
    `- wrk -t1 -c${CONNS} -d${SECONDS}s --latency (keep-alive clients), ${WARMUP} s unrecorded warm-up per run, ${ROUNDS} interleaved rounds, medians; raw output in ${logDir}`,
    `- tsgi under test: ${TSGI_ROOT === ROOT ? 'dist/ as it is' : `a copy of dist/ taken at start (${TSGI_ROOT})`}`,
    '',
    '| config | req/s median (runs) | p50 ms | p99 ms | errors | nginx errors |',
    '|---|---|---|---|---|---|',
    ...CONFIGS.map((config) => {
      const list = runs.get(config.id)!;
      return `| ${config.id}: ${config.label} | **${rps(config.id).toFixed(0)}** (${list.map((r) => r.rps.toFixed(0)).join(', ')}) | ${median(list.map((r) => r.p50Ms)).toFixed(2)} | ${median(list.map((r) => r.p99Ms)).toFixed(2)} | ${list.reduce((s, r) => s + r.errors, 0)} | ${list.reduce((s, r) => s + r.nginxErrors, 0)} |`;
    }),
    '',
    '| ratio | of medians | per round (adjacent runs) | target |',
    '|---|---|---|---|',
    ...['ng_fcgi_keep', 'ng_fcgi'].map((id) => {
      const ratio = rps(id) / rps('ng_uwsgi');
      // Runs of one round are back to back, so their ratio shrugs off load that drifts between rounds.
      const paired = runs.get(id)!.map((run, i) => run.rps / runs.get('ng_uwsgi')![i]!.rps);
      return `| ${id} / ng_uwsgi | ${ratio.toFixed(2)}× | ${paired.map((r) => r.toFixed(2)).join(', ')} (median ${median(paired).toFixed(2)}) | ≥ ${TARGET}× ${ratio >= TARGET ? 'met' : 'NOT met'} |`;
    }),
    '',
    `load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (${cpus().length} CPUs; other processes share them)`,
  ];
  const report = lines.join('\n');
  writeFileSync(join(logDir, 'report.md'), `${report}\n`);
  process.stdout.write(`${report}\n`);
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    if (TSGI_ROOT !== ROOT) rmSync(join(TSGI_ROOT, '..'), { recursive: true, force: true });
  });
