/**
 * Side-by-side benchmark runner: tsgi against raw node:http, node:cluster, nginx fronts and real
 * uWSGI, measured with wrk on loopback, configurations interleaved per round (A B A B …), medians
 * over the rounds, ratios against the references and the targets of the performance issue.
 *
 *   npm run build && node dist/bench/run.js                      # everything, 3 rounds (~12 min quiet)
 *   BENCH_ROUNDS=1 BENCH_SECONDS=2 node dist/bench/run.js keepalive close   # a smoke run
 *   node dist/bench/run.js profile                                # --cpu-prof of tsgi workers
 *   node dist/bench/run.js --report bench/out/STAMP.json          # re-render a saved run
 *
 * Groups: keepalive close nginx longpoll scheduler (the default set), profile (on request).
 * Each run writes bench/out/<UTC stamp>.md (tables, commands, every run) and .json (raw results).
 * The tsgi under test is a copy of dist/ taken at start (BENCH_SNAPSHOT=0: use dist/ in place).
 * Env: BENCH_ROUNDS (3), BENCH_SECONDS (8, sync runs), BENCH_WARMUP (1 s of unrecorded wrk
 * before each sync run), BENCH_CONNS (64), BENCH_LONGPOLL_SECONDS (10), BENCH_LONGPOLL_CONNS
 * (1000), BENCH_LONGPOLL_BIG_CONNS (10000; lowered to what `ulimit -Hn` allows), BENCH_BASE_PORT
 * (18600; ports stay below 32768, the ephemeral range), BENCH_QUIET_PCT (20) / BENCH_QUIET_BUDGET
 * (60 s) / BENCH_QUIET_WAIT (8 s) / BENCH_FOREIGN_MAX (15): before each run wait (at most QUIET_WAIT s,
 * QUIET_BUDGET s in all) until processes this runner did not start use < QUIET_PCT % of a core, and
 * leave runs where they used ≥ FOREIGN_MAX % out of the medians when ≥ 2 clean runs remain (marked †).
 * BENCH_EXTRA_ROUNDS (2): afterwards, configurations with fewer clean runs than rounds are run again
 * (interleaved among themselves), at most this many more times. BENCH_OUT (bench/out).
 * BENCH_BASELINE=DIR: the `baseline` group compares this tsgi with the built checkout in DIR.
 *
 * Every run starts its servers fresh, waits until they answer, warms up, runs wrk, then stops
 * them (SIGTERM/SIGINT, then SIGKILL of their process group). Every process started here gets its
 * own process group and is stopped by its id on exit, failure and Ctrl-C. Installs nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync, type WriteStream } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeNginxConf } from '../test/helpers/peers.js';
import { portIsFree } from '../test/helpers/ports.js';
import { handleSignals, readProcStats, stopAll as stopTracked, track, type ProcStat, type TrackedProcess } from '../test/helpers/processes.js';

// ------------------------------------------------------------------------------ settings

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function envNumber(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name}=${raw}: expected a number ≥ ${min}`);
  return value;
}

const ROUNDS = Math.round(envNumber('BENCH_ROUNDS', 3, 1));
const SECONDS = envNumber('BENCH_SECONDS', 8, 1);
const WARMUP = envNumber('BENCH_WARMUP', 1, 0);
const CONNS = Math.round(envNumber('BENCH_CONNS', 64, 1));
const LP_SECONDS = envNumber('BENCH_LONGPOLL_SECONDS', 10, 2);
const LP_CONNS = Math.round(envNumber('BENCH_LONGPOLL_CONNS', 1000, 1));
const BIG_CONNS_WANTED = Math.round(envNumber('BENCH_LONGPOLL_BIG_CONNS', 10000, 1));
const BASE_PORT = Math.round(envNumber('BENCH_BASE_PORT', 18600, 1024));
const QUIET_PCT = envNumber('BENCH_QUIET_PCT', 20);
const QUIET_BUDGET_S = envNumber('BENCH_QUIET_BUDGET', 60);
const QUIET_WAIT_S = envNumber('BENCH_QUIET_WAIT', 8);
const EXTRA_ROUNDS = Math.round(envNumber('BENCH_EXTRA_ROUNDS', 2));
const FOREIGN_MAX = envNumber('BENCH_FOREIGN_MAX', 15);
const OUT_DIR = resolve(process.env.BENCH_OUT ?? join(ROOT, 'bench', 'out'));
const MAX_PORT = 32000;
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

const GROUPS = ['keepalive', 'close', 'nginx', 'longpoll', 'scheduler', 'profile', 'baseline'] as const;
type Group = (typeof GROUPS)[number];
const DEFAULT_GROUPS: Group[] = ['keepalive', 'close', 'nginx', 'longpoll', 'scheduler'];

const START = Date.now();
const RUN_DIR = mkdtempSync(join(tmpdir(), 'tsgi-bench-'));

/**
 * Other people rebuild dist/ while a run takes its ten minutes: unless BENCH_SNAPSHOT=0, the
 * compiled tsgi (dist/runtime, green, api, bench), its addon, package.json and bench/apps are
 * copied once at start and every run uses that copy.
 */
function snapshot(): string {
  if (process.env.BENCH_SNAPSHOT === '0' || !existsSync(join(ROOT, 'dist', 'runtime', 'main.js'))) return ROOT;
  const snap = join(RUN_DIR, 'tsgi');
  for (const part of ['dist/runtime', 'dist/green', 'dist/api', 'dist/bench', 'build/Release', 'bench/apps']) {
    if (existsSync(join(ROOT, part))) cpSync(join(ROOT, part), join(snap, part), { recursive: true });
  }
  cpSync(join(ROOT, 'package.json'), join(snap, 'package.json'));
  if (existsSync(join(ROOT, 'node_modules'))) symlinkSync(join(ROOT, 'node_modules'), join(snap, 'node_modules'));
  return snap;
}
const TSGI_ROOT = snapshot();
const APPS = join(TSGI_ROOT, 'bench', 'apps');
const TSGI_MAIN = join(TSGI_ROOT, 'dist', 'runtime', 'main.js');
const SCHEDULER_BENCH = join(TSGI_ROOT, 'dist', 'bench', 'scheduler.bench.js');
const BUILT_AT = existsSync(join(ROOT, 'dist', 'runtime', 'main.js')) ? statSync(join(ROOT, 'dist', 'runtime', 'main.js')).mtime.toISOString() : 'n/a';

function progress(message: string): void {
  const elapsed = String(Math.round((Date.now() - START) / 1000)).padStart(4);
  process.stderr.write(`[${elapsed}s] ${message}\n`);
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

// ------------------------------------------------------------------------------ processes

/** A process this runner started, in its own process group (pgid = pid), tracked by processes.ts. */
class Proc {
  readonly pid: number;
  readonly tracked: TrackedProcess;
  readonly done: Promise<void>;
  exited = false;
  exitCode: number | null = null;
  exitSignal: string | null = null;
  /** The last 64 KiB of stdout+stderr (for readiness markers and error messages). */
  output = '';
  readonly #log: WriteStream;

  constructor(readonly name: string, readonly argv: string[], readonly stopSignal: NodeJS.Signals, options: { cwd?: string; env?: Record<string, string> } = {}) {
    this.#log = createWriteStream(join(RUN_DIR, `${name}.log`), { flags: 'a' });
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: options.cwd ?? TSGI_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    if (child.pid === undefined) throw new Error(`cannot start ${argv[0]}`);
    this.pid = child.pid;
    this.tracked = track(name, child, { stopSignal, group: true, output: () => this.output });
    const collect = (chunk: Buffer) => {
      this.#log.write(chunk);
      this.output = (this.output + chunk.toString('utf8')).slice(-65536);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.done = new Promise((done) => {
      child.on('error', (error) => {
        collect(Buffer.from(`spawn error: ${error.message}\n`));
        this.exited = true;
        done();
      });
      child.on('close', (code, signal) => {
        this.exited = true;
        this.exitCode = code;
        this.exitSignal = signal;
        this.#log.end();
        done();
      });
    });
  }

  tail(lines = 15): string {
    return this.output.trimEnd().split('\n').slice(-lines).join('\n');
  }
}

/** Stops `proc` with its stop signal, then SIGKILLs whatever is left of its process group. */
async function stopProc(proc: Proc, graceMs = 6000): Promise<void> {
  await proc.tracked.stop(graceMs);
  if (proc.tracked.forceKilled) progress(`  ${proc.name} (pid ${proc.pid}) did not stop within ${graceMs} ms: SIGKILLed its process group`);
  await Promise.race([proc.done, sleep(2000)]);
}

async function stopAll(): Promise<void> {
  for (const proc of await stopTracked(3000)) if (proc.forceKilled) progress(`  ${proc.name} (pid ${proc.pid}) did not stop within 3000 ms: SIGKILLed its process group`);
}

// ------------------------------------------------------------------------------ /proc

function isMine(pid: number, stats: Map<number, ProcStat>): boolean {
  for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
    if (p === process.pid) return true;
    const stat = stats.get(p);
    if (stat === undefined) return false;
    p = stat.ppid;
  }
  return false;
}

/**
 * CPU used by processes this runner did not start, while a run lasts. /proc is read every 500 ms
 * so that the short-lived processes other people's test suites start are seen too (a process's
 * ticks count from its first sighting, or from 0 when it was born after the start). Neither
 * cutime (a parent reaping a finished test run books minutes into one window: it read "1800 %")
 * nor machine totals minus our tree (per-task and /proc/stat accounting disagree by ~20 % under
 * loopback load) gave usable numbers.
 */
class ForeignMeter {
  readonly #base = new Map<number, number>();
  readonly #last = new Map<number, number>();
  readonly #timer: NodeJS.Timeout;
  readonly #t0 = performance.now();

  constructor(intervalMs = 500) {
    for (const [pid, stat] of readProcStats()) this.#base.set(pid, stat.ticks);
    this.#timer = setInterval(() => this.#sample(), intervalMs).unref();
  }

  #sample(): void {
    const stats = readProcStats();
    for (const [pid, stat] of stats) {
      if (pid === 2 || stat.ppid === 2 || isMine(pid, stats)) continue;
      if (!this.#base.has(pid)) this.#base.set(pid, 0);
      this.#last.set(pid, stat.ticks);
    }
  }

  /** Stops sampling; returns the foreign CPU as % of one core over the window. */
  stop(): number {
    this.#sample();
    clearInterval(this.#timer);
    let ticks = 0;
    for (const [pid, last] of this.#last) ticks += Math.max(0, last - (this.#base.get(pid) ?? 0));
    return (100 * ticks) / CLK_TCK / ((performance.now() - this.#t0) / 1000);
  }
}

let quietSpentMs = 0;

/** Waits (at most QUIET_WAIT s per run, QUIET_BUDGET s in total) until other processes leave the CPU alone. */
async function quietGate(): Promise<void> {
  for (let waited = 0; ; waited += 1000) {
    const meter = new ForeignMeter(200);
    await sleep(400);
    const pct = meter.stop();
    if (pct < QUIET_PCT) return;
    if (waited >= QUIET_WAIT_S * 1000 || quietSpentMs >= QUIET_BUDGET_S * 1000) {
      progress(`  machine busy with other processes (${pct.toFixed(0)} % of a core): running anyway`);
      return;
    }
    if (waited === 0) progress(`  waiting for other processes to quiet down (${pct.toFixed(0)} % of a core)`);
    await sleep(600);
    quietSpentMs += 1000;
  }
}

function rssKb(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Samples VmRSS of `pid` every 100 ms until stopped; returns the peak in kB. */
function sampleRss(pid: number): () => number | undefined {
  let peak: number | undefined;
  const take = () => {
    const kb = rssKb(pid);
    if (kb !== undefined && (peak === undefined || kb > peak)) peak = kb;
  };
  take();
  const timer = setInterval(take, 100).unref();
  return () => {
    clearInterval(timer);
    take();
    return peak;
  };
}

// ------------------------------------------------------------------------------ ports & probes

let nextPort = BASE_PORT;

/** A fresh port per server start (a new port never meets the last run's TIME_WAIT pairs). */
async function allocPort(): Promise<number> {
  for (let tries = 0; tries < 2000; tries++) {
    if (nextPort >= MAX_PORT) nextPort = BASE_PORT;
    const port = nextPort++;
    if (await portIsFree(port)) return port;
  }
  throw new Error(`no free port between ${BASE_PORT} and ${MAX_PORT}`);
}

function probeHttp(port: number): Promise<boolean> {
  return new Promise((done) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 1500 }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode === 200));
      res.on('error', () => done(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(false));
    req.end();
  });
}

/** One uwsgi-protocol GET /: true if the answer is an HTTP 200 status line. */
function probeUwsgi(port: number): Promise<boolean> {
  const vars: Array<[string, string]> = [
    ['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/'], ['PATH_INFO', '/'], ['QUERY_STRING', ''],
    ['SERVER_PROTOCOL', 'HTTP/1.1'], ['SERVER_NAME', '127.0.0.1'], ['SERVER_PORT', String(port)],
    ['REMOTE_ADDR', '127.0.0.1'], ['HTTP_HOST', `127.0.0.1:${port}`],
  ];
  const parts: Buffer[] = [];
  for (const [key, value] of vars) {
    for (const text of [key, value]) {
      const bytes = Buffer.from(text, 'latin1');
      const size = Buffer.alloc(2);
      size.writeUInt16LE(bytes.length);
      parts.push(size, bytes);
    }
  }
  const body = Buffer.concat(parts);
  const head = Buffer.from([0, body.length & 0xff, body.length >> 8, 0]);
  return new Promise((done) => {
    let answer = '';
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1500, () => socket.destroy());
    socket.on('connect', () => socket.write(Buffer.concat([head, body])));
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => done(/^HTTP\/1\.[01] 200/.test(answer)));
  });
}

type Probe = { kind: 'http' | 'uwsgi'; port: number };

/** Until `proc` logs `marker` (if given) and the probe answers 200. */
async function waitReady(proc: Proc, probe: Probe, marker?: RegExp, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exited) throw new Error(`${proc.name} exited (code ${proc.exitCode}, signal ${proc.exitSignal}) before it was ready:\n${proc.tail()}`);
    if (marker === undefined || marker.test(proc.output)) {
      if (await (probe.kind === 'http' ? probeHttp(probe.port) : probeUwsgi(probe.port))) return;
    }
    await sleep(100);
  }
  throw new Error(`${proc.name} not ready after ${timeoutMs} ms (${probe.kind} probe on ${probe.port}${marker ? `, waiting for ${marker}` : ''}):\n${proc.tail()}`);
}

// ------------------------------------------------------------------------------ wrk

interface WrkResult {
  rps: number;
  requests: number;
  durationS: number;
  avgMs: number;
  p50Ms: number;
  p75Ms: number;
  p90Ms: number;
  p99Ms: number;
  connectErrors: number;
  readErrors: number;
  writeErrors: number;
  timeouts: number;
  non2xx: number;
}

function toMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text);
  if (!match) return NaN;
  const value = Number(match[1]);
  return value * { us: 0.001, ms: 1, s: 1000, m: 60000, h: 3600000 }[match[2] as 'us' | 'ms' | 's' | 'm' | 'h'];
}

function parseWrk(text: string): WrkResult {
  const num = (re: RegExp, fallback = NaN) => {
    const match = re.exec(text);
    return match ? Number(match[1]) : fallback;
  };
  const ms = (re: RegExp) => {
    const match = re.exec(text);
    return match ? toMs(match[1]!) : NaN;
  };
  const requests = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(text);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    rps: num(/^Requests\/sec:\s+([\d.]+)/m),
    requests: requests ? Number(requests[1]) : NaN,
    durationS: requests ? toMs(`${requests[2]}${requests[3]}`) / 1000 : NaN,
    avgMs: ms(/^\s+Latency\s+([\d.]+\w+)/m),
    p50Ms: ms(/^\s+50%\s+([\d.]+\w+)/m),
    p75Ms: ms(/^\s+75%\s+([\d.]+\w+)/m),
    p90Ms: ms(/^\s+90%\s+([\d.]+\w+)/m),
    p99Ms: ms(/^\s+99%\s+([\d.]+\w+)/m),
    connectErrors: errors ? Number(errors[1]) : 0,
    readErrors: errors ? Number(errors[2]) : 0,
    writeErrors: errors ? Number(errors[3]) : 0,
    timeouts: errors ? Number(errors[4]) : 0,
    non2xx: num(/Non-2xx or 3xx responses:\s+(\d+)/, 0),
  };
}

/** Several wrk processes as one run: rates and counts add up; p99 is the worst of them. */
function combineWrk(parts: WrkResult[]): WrkResult {
  if (parts.length === 1) return parts[0]!;
  const sum = (k: keyof WrkResult) => parts.reduce((a, p) => a + p[k], 0);
  const requests = sum('requests');
  const mid = (k: keyof WrkResult) => median(parts.map((p) => p[k]));
  return {
    rps: sum('rps'), requests, durationS: Math.max(...parts.map((p) => p.durationS)),
    avgMs: parts.reduce((a, p) => a + p.avgMs * p.requests, 0) / requests,
    p50Ms: mid('p50Ms'), p75Ms: mid('p75Ms'), p90Ms: mid('p90Ms'), p99Ms: Math.max(...parts.map((p) => p.p99Ms)),
    connectErrors: sum('connectErrors'), readErrors: sum('readErrors'), writeErrors: sum('writeErrors'), timeouts: sum('timeouts'), non2xx: sum('non2xx'),
  };
}

/** Established connections to the url's port per owning process, busiest first: "40/24". */
function connectionSplit(url: string): string {
  const port = new URL(url).port;
  const out = spawnSync('ss', ['-Htnp', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' }).stdout ?? '';
  const perPid = new Map<string, number>();
  for (const match of out.matchAll(/pid=(\d+)/g)) perPid.set(match[1]!, (perPid.get(match[1]!) ?? 0) + 1);
  return [...perPid.values()].sort((a, b) => b - a).join('/') || 'n/a';
}

function listenOverflows(): number {
  try {
    const lines = readFileSync('/proc/net/netstat', 'latin1').split('\n').filter((l) => l.startsWith('TcpExt:'));
    const names = lines[0]!.split(/\s+/);
    const values = lines[1]!.split(/\s+/);
    return Number(values[names.indexOf('ListenOverflows')]) || 0;
  } catch {
    return NaN;
  }
}

function wrkArgs(conns: number, seconds: number, timeoutS: number, close: boolean, url: string): string[] {
  return ['-t1', `-c${conns}`, `-d${seconds}s`, '--timeout', `${timeoutS}s`, '--latency', ...(close ? ['-H', 'Connection: close'] : []), url];
}

/** Runs wrk with the soft fd limit raised to the hard one; returns its output. */
async function runWrk(name: string, args: string[], seconds: number): Promise<string> {
  const proc = new Proc(name, ['sh', '-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec wrk "$@"', 'sh', ...args], 'SIGINT');
  const timer = setTimeout(() => {
    progress(`  ${name}: wrk overran its time, stopping it`);
    void stopProc(proc, 2000);
  }, (seconds + 30) * 1000);
  await proc.done;
  clearTimeout(timer);
  await stopProc(proc, 1000); // gone already: this only takes it off the record (and its group, if any is left)
  if (proc.exitCode !== 0) throw new Error(`wrk failed (exit ${proc.exitCode}, signal ${proc.exitSignal}): ${proc.tail(5)}`);
  return proc.output;
}

// ------------------------------------------------------------------------------ configurations

interface Launched {
  url: string;
  /** The process whose RSS is sampled (the worker). */
  rssPid?: number;
  procs: Proc[];
}

interface Config {
  id: string;
  group: Group;
  label: string;
  /** The server side as a command line (ports as P/U), for the report. */
  command: string;
  conns: number;
  seconds: number;
  timeoutS: number;
  close: boolean;
  warmup: boolean;
  sampleRss: boolean;
  /** Split the load over this many wrk processes (conns/split each), started RAMP_MS apart. */
  split?: number;
  /** Several server processes: record how wrk's connections are spread over them (ss -tnp). */
  showConnSplit?: boolean;
  launch(tag: string): Promise<Launched>;
}

/** Gap between the wrk processes of a split run: each burst of connects fits the listen queue. */
const RAMP_MS = 250;

function tsgiArgs(socket: string, module: string, extra: string[]): string[] {
  return ['node', TSGI_MAIN, ...socket.split(' '), '--chdir', 'bench/apps', '--module', module, '--disable-logging', ...extra];
}

/**
 * tsgi with one socket; waits for the worker's `ready` (or the master's `all N workers ready`).
 * `root`: another built checkout to run instead (BENCH_BASELINE, the `baseline` group).
 */
async function launchTsgi(tag: string, kind: 'http' | 'uwsgi', module: string, extra: string[], nodeArgs: string[] = [], root = TSGI_ROOT): Promise<{ proc: Proc; port: number }> {
  const port = await allocPort();
  const socket = `${kind === 'http' ? '--http-socket' : '--socket'} 127.0.0.1:${port}`;
  const argv = tsgiArgs(socket, module, extra);
  argv[1] = join(root, 'dist', 'runtime', 'main.js');
  argv.splice(1, 0, ...nodeArgs);
  const proc = new Proc(`${tag}-tsgi`, argv, 'SIGTERM', { cwd: root });
  const master = extra.includes('--master');
  await waitReady(proc, { kind, port }, master ? /all \d+ workers ready/ : /ready \(pid \d+\)/);
  return { proc, port };
}

async function launchNode(tag: string, app: string, env: Record<string, string> = {}): Promise<{ proc: Proc; port: number }> {
  const port = await allocPort();
  const proc = new Proc(`${tag}-node`, ['node', join(APPS, app)], 'SIGTERM', { cwd: APPS, env: { PORT: String(port), ...env } });
  await waitReady(proc, { kind: 'http', port });
  return { proc, port };
}

async function launchUwsgiSocket(tag: string): Promise<{ proc: Proc; port: number }> {
  const port = await allocPort();
  const proc = new Proc(`${tag}-uwsgi`, ['uwsgi', '--plugin', 'python3', '--master', '--disable-logging', '--listen', '1024', '--wsgi-file', join(APPS, 'hello.py'),
    '--socket', `127.0.0.1:${port}`, '--processes', '1'], 'SIGINT');
  await waitReady(proc, { kind: 'uwsgi', port });
  return { proc, port };
}

/** The floor upstream (bench/apps/floor_uwsgi.c), compiled once per bench run. */
let floorBinary: string | undefined;
function buildFloorUpstream(): string {
  if (floorBinary) return floorBinary;
  const binary = join(RUN_DIR, 'floor_uwsgi');
  const cc = spawnSync('cc', ['-O2', '-o', binary, join(APPS, 'floor_uwsgi.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cc could not build bench/apps/floor_uwsgi.c (install build-essential): ${cc.stderr || cc.error}`);
  return (floorBinary = binary);
}

async function launchFloorUpstream(tag: string): Promise<{ proc: Proc; port: number }> {
  const port = await allocPort();
  const proc = new Proc(`${tag}-floor`, [buildFloorUpstream(), String(port)], 'SIGTERM');
  await waitReady(proc, { kind: 'uwsgi', port });
  return { proc, port };
}

/** nginx.conf (after shared/anchors/conf/nginx.conf.tmpl): a master and 1 worker, access log off. */
function nginxConf(dir: string, listen: number, upstream: number, pass: 'uwsgi' | 'http'): string {
  const location = pass === 'uwsgi'
    ? `include /etc/nginx/uwsgi_params;\n            uwsgi_pass 127.0.0.1:${upstream};`
    : `proxy_pass http://127.0.0.1:${upstream};`;
  return writeNginxConf(dir, {
    masterProcess: true,
    logLevel: 'warn',
    workerConnections: 4096,
    multiAccept: true,
    http: `    keepalive_timeout 75s;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:${listen};
        location / {
            ${location}
        }
    }`,
  });
}

async function launchNginx(tag: string, upstream: number, pass: 'uwsgi' | 'http'): Promise<{ proc: Proc; port: number }> {
  const port = await allocPort();
  const dir = join(RUN_DIR, `${tag}-nginx`);
  mkdirSync(dir, { recursive: true });
  const proc = new Proc(`${tag}-nginx`, ['nginx', '-p', `${dir}/`, '-c', nginxConf(dir, port, upstream, pass), '-e', join(dir, 'error.log')], 'SIGTERM');
  await waitReady(proc, { kind: 'http', port });
  return { proc, port };
}

/** Connections for the 10k long-poll: what `ulimit -Hn` leaves room for (wrk needs one fd each). */
function bigConns(): { conns: number; note: string } {
  const hard = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim();
  const limit = hard === 'unlimited' ? Infinity : Number(hard);
  if (BIG_CONNS_WANTED + 200 <= limit) return { conns: BIG_CONNS_WANTED, note: '' };
  const conns = Math.max(1000, Math.floor((limit - 200) / 1000) * 1000);
  return { conns, note: `-c ${BIG_CONNS_WANTED} does not fit the hard fd limit ${hard}: using -c ${conns}` };
}
const BIG = bigConns();

const U = (port: number) => `http://127.0.0.1:${port}/`;
/** wrk processes for a ramped run: about 1000 connections each. */
function RAMP_SPLIT(conns: number): number {
  return Math.max(1, Math.round(conns / 1000));
}
const TSGI_CMD = 'node dist/runtime/main.js';

function syncConfig(id: string, group: Group, label: string, command: string, close: boolean, launch: Config['launch']): Config {
  return { id, group, label, command, conns: CONNS, seconds: SECONDS, timeoutS: 2, close, warmup: WARMUP > 0, sampleRss: false, launch };
}

function longpollConfig(id: string, label: string, command: string, conns: number, launch: Config['launch'], split?: number): Config {
  return { id, group: 'longpoll', label, command, conns, seconds: LP_SECONDS, timeoutS: 5, close: false, warmup: false, sampleRss: true, split, launch };
}

const tsgiHttp = (extra: string[]) => async (tag: string): Promise<Launched> => {
  const { proc, port } = await launchTsgi(tag, 'http', 'hello_tsgi', extra);
  return { url: U(port), rssPid: proc.pid, procs: [proc] };
};
const nodeHttp = (app: string, env: Record<string, string> = {}) => async (tag: string): Promise<Launched> => {
  const { proc, port } = await launchNode(tag, app, env);
  return { url: U(port), rssPid: proc.pid, procs: [proc] };
};
const behindNginx = (upstream: (tag: string) => Promise<{ proc: Proc; port: number }>, pass: 'uwsgi' | 'http') => async (tag: string): Promise<Launched> => {
  const up = await upstream(tag);
  try {
    const front = await launchNginx(tag, up.port, pass);
    return { url: U(front.port), procs: [front.proc, up.proc] };
  } catch (error) {
    await stopProc(up.proc);
    throw error;
  }
};

/**
 * BENCH_BASELINE=DIR (a checkout of an earlier commit, installed and built): the `baseline`
 * group runs this tsgi and that one side by side, interleaved, on hello keep-alive, behind nginx
 * and with 1,000 long-polls — a before/after of a change that should not move the figures.
 */
const BASELINE = process.env.BENCH_BASELINE ? resolve(process.env.BENCH_BASELINE) : undefined;

function baselineConfigs(): Config[] {
  if (BASELINE === undefined) return [];
  const sides = [['now', TSGI_ROOT], ['before', BASELINE]] as const;
  return sides.flatMap(([side, root]) => [
    { ...syncConfig(`bl_ka_${side}`, 'baseline', `tsgi (${side}) --http-socket, 1 worker, keep-alive`, `${TSGI_CMD} --http-socket 127.0.0.1:P --chdir bench/apps --module hello_tsgi --disable-logging`, false,
      async (tag) => {
        const { proc, port } = await launchTsgi(tag, 'http', 'hello_tsgi', [], [], root);
        return { url: U(port), rssPid: proc.pid, procs: [proc] };
      }) },
    syncConfig(`bl_ng_${side}`, 'baseline', `nginx → uwsgi_pass → tsgi (${side}) --socket, 1 worker`, `${TSGI_CMD} --socket 127.0.0.1:U --chdir bench/apps --module hello_tsgi --disable-logging`, false,
      behindNginx((tag) => launchTsgi(tag, 'uwsgi', 'hello_tsgi', [], [], root), 'uwsgi')),
    { ...longpollConfig(`bl_lp_${side}`, `tsgi (${side}) --async ${LP_CONNS}, 1 worker, 1 s long-polls`, `${TSGI_CMD} --http-socket 127.0.0.1:P --chdir bench/apps --module longpoll --disable-logging --async ${LP_CONNS}`, LP_CONNS,
      async (tag) => {
        const { proc, port } = await launchTsgi(tag, 'http', 'longpoll', ['--async', String(LP_CONNS)], [], root);
        return { url: U(port), rssPid: proc.pid, procs: [proc] };
      }), group: 'baseline' as Group },
  ]);
}

const CONFIGS: Config[] = [
  // hello, keep-alive
  syncConfig('ka_tsgi1', 'keepalive', 'tsgi --http-socket, 1 worker (single process)', `${TSGI_CMD} --http-socket 127.0.0.1:P --chdir bench/apps --module hello_tsgi --disable-logging`, false, tsgiHttp([])),
  syncConfig('ka_tsgi1_v8', 'keepalive', "tsgi --http-socket, 1 worker, --max-semi-space 0 (V8's own nursery sizing)", `${TSGI_CMD} --http-socket 127.0.0.1:P --chdir bench/apps --module hello_tsgi --disable-logging --max-semi-space 0`, false, tsgiHttp(['--max-semi-space', '0'])),
  syncConfig('ka_node', 'keepalive', 'node:http, 1 process', 'PORT=P node bench/apps/hello_http.cjs', false, nodeHttp('hello_http.cjs')),
  { ...syncConfig('ka_tsgi2', 'keepalive', 'tsgi --http-socket --master --processes 2', `${TSGI_CMD} --http-socket 127.0.0.1:P --chdir bench/apps --module hello_tsgi --disable-logging --master --processes 2`, false, tsgiHttp(['--master', '--processes', '2'])), showConnSplit: true },
  { ...syncConfig('ka_cluster2', 'keepalive', 'node:cluster, 2 workers', 'PORT=P WORKERS=2 node bench/apps/hello_cluster.cjs', false, nodeHttp('hello_cluster.cjs', { WORKERS: '2' })), showConnSplit: true },
  // hello, Connection: close
  syncConfig('close_tsgi2', 'close', 'tsgi --http-socket --master --processes 2', `${TSGI_CMD} --http-socket 127.0.0.1:P --chdir bench/apps --module hello_tsgi --disable-logging --master --processes 2`, true, tsgiHttp(['--master', '--processes', '2'])),
  syncConfig('close_cluster2', 'close', 'node:cluster, 2 workers', 'PORT=P WORKERS=2 node bench/apps/hello_cluster.cjs', true, nodeHttp('hello_cluster.cjs', { WORKERS: '2' })),
  syncConfig('close_tsgi1', 'close', 'tsgi --http-socket, 1 worker (single process)', `${TSGI_CMD} --http-socket 127.0.0.1:P --chdir bench/apps --module hello_tsgi --disable-logging`, true, tsgiHttp([])),
  syncConfig('close_node', 'close', 'node:http, 1 process', 'PORT=P node bench/apps/hello_http.cjs', true, nodeHttp('hello_http.cjs')),
  // behind nginx (1 worker)
  syncConfig('ng_tsgi', 'nginx', 'nginx → uwsgi_pass → tsgi --socket, 1 worker, 1 core (default)', `${TSGI_CMD} --socket 127.0.0.1:U --chdir bench/apps --module hello_tsgi --disable-logging`, false,
    behindNginx((tag) => launchTsgi(tag, 'uwsgi', 'hello_tsgi', []), 'uwsgi')),
  syncConfig('ng_node', 'nginx', 'nginx → proxy_pass (HTTP/1.0) → node:http', 'PORT=U node bench/apps/hello_http.cjs', false, behindNginx((tag) => launchNode(tag, 'hello_http.cjs'), 'http')),
  syncConfig('ng_tsgi64', 'nginx', 'nginx → uwsgi_pass → tsgi --socket, 1 worker, --async 64', `${TSGI_CMD} --socket 127.0.0.1:U --chdir bench/apps --module hello_tsgi --disable-logging --async 64`, false,
    behindNginx((tag) => launchTsgi(tag, 'uwsgi', 'hello_tsgi', ['--async', '64']), 'uwsgi')),
  syncConfig('ng_uwsgi', 'nginx', 'nginx → uwsgi_pass → uWSGI --socket, 1 process', 'uwsgi --plugin python3 --master --disable-logging --listen 1024 --wsgi-file bench/apps/hello.py --socket 127.0.0.1:U --processes 1', false,
    behindNginx(launchUwsgiSocket, 'uwsgi')),
  // What nginx leaves for any upstream: a blocking C accept loop that answers a fixed hello.
  syncConfig('ng_floor', 'nginx', 'nginx → uwsgi_pass → floor_uwsgi.c (the cheapest upstream: C, blocking accept, fixed reply)', 'bench/apps/floor_uwsgi U', false,
    behindNginx(launchFloorUpstream, 'uwsgi')),
  // long-polls: 1 s async sleep per request
  longpollConfig('lp_tsgi', `tsgi --async ${LP_CONNS}, 1 worker, yield uwsgi.async_sleep(1)`, `${TSGI_CMD} --http-socket 127.0.0.1:P --chdir bench/apps --module longpoll --disable-logging --async ${LP_CONNS}`, LP_CONNS,
    async (tag) => {
      const { proc, port } = await launchTsgi(tag, 'http', 'longpoll', ['--async', String(LP_CONNS)]);
      return { url: U(port), rssPid: proc.pid, procs: [proc] };
    }),
  longpollConfig('lp_node', 'node:http + setTimeout(1000), 1 process', 'PORT=P node bench/apps/sleep_http.cjs', LP_CONNS, nodeHttp('sleep_http.cjs')),
  longpollConfig('lp_tsgi_v8', `tsgi --async ${LP_CONNS} --max-semi-space 0 (V8's own nursery sizing)`, `${TSGI_CMD} --http-socket 127.0.0.1:P --chdir bench/apps --module longpoll --disable-logging --async ${LP_CONNS} --max-semi-space 0`, LP_CONNS,
    async (tag) => {
      const { proc, port } = await launchTsgi(tag, 'http', 'longpoll', ['--async', String(LP_CONNS), '--max-semi-space', '0']);
      return { url: U(port), rssPid: proc.pid, procs: [proc] };
    }),
  longpollConfig('lp_node_semi1', 'node:http + setTimeout(1000), NODE_OPTIONS=--max-semi-space-size=1', 'NODE_OPTIONS=--max-semi-space-size=1 PORT=P node bench/apps/sleep_http.cjs', LP_CONNS,
    nodeHttp('sleep_http.cjs', { NODE_OPTIONS: '--max-semi-space-size=1' })),
  longpollConfig('lp_tsgi_big', `tsgi --async ${BIG.conns} --listen 4096, 1 worker`, `${TSGI_CMD} --http-socket 127.0.0.1:P --chdir bench/apps --module longpoll --disable-logging --async ${BIG.conns} --listen 4096`, BIG.conns,
    async (tag) => {
      const { proc, port } = await launchTsgi(tag, 'http', 'longpoll', ['--async', String(BIG.conns), '--listen', '4096']);
      return { url: U(port), rssPid: proc.pid, procs: [proc] };
    }),
  longpollConfig('lp_node_big', 'node:http + setTimeout(1000), 1 process (reference)', 'PORT=P node bench/apps/sleep_http.cjs', BIG.conns, nodeHttp('sleep_http.cjs')),
  // The same with the connects spread out: one wrk -c10000 overflows the 4096 listen queue
  // (somaxconn) on any server, and the dropped handshakes come back 1–3 s later.
  longpollConfig('lp_tsgi_big_ramp', `tsgi --async ${BIG.conns} --listen 4096, 1 worker; wrk split ${RAMP_SPLIT(BIG.conns)}× ${RAMP_MS} ms apart`,
    `${TSGI_CMD} --http-socket 127.0.0.1:P --chdir bench/apps --module longpoll --disable-logging --async ${BIG.conns} --listen 4096`, BIG.conns,
    async (tag) => {
      const { proc, port } = await launchTsgi(tag, 'http', 'longpoll', ['--async', String(BIG.conns), '--listen', '4096']);
      return { url: U(port), rssPid: proc.pid, procs: [proc] };
    }, RAMP_SPLIT(BIG.conns)),
  longpollConfig('lp_node_big_ramp', `node:http + setTimeout(1000) (reference); wrk split ${RAMP_SPLIT(BIG.conns)}× ${RAMP_MS} ms apart`, 'PORT=P node bench/apps/sleep_http.cjs', BIG.conns,
    nodeHttp('sleep_http.cjs'), RAMP_SPLIT(BIG.conns)),
  ...baselineConfigs(),
];

interface Comparison {
  group: Group;
  subject: string;
  reference: string;
  metric: 'rps' | 'rss';
  /** Target ratio subject/reference (rps: at least; rss: at most); undefined = informational. */
  target?: number;
  kind?: 'target' | 'goal';
}

const COMPARISONS: Comparison[] = [
  { group: 'keepalive', subject: 'ka_tsgi1', reference: 'ka_node', metric: 'rps', target: 0.9 },
  { group: 'keepalive', subject: 'ka_tsgi2', reference: 'ka_cluster2', metric: 'rps', target: 1.0 },
  { group: 'keepalive', subject: 'ka_tsgi1', reference: 'ka_tsgi1_v8', metric: 'rps' },
  { group: 'close', subject: 'close_tsgi2', reference: 'close_cluster2', metric: 'rps', target: 1.5 },
  { group: 'close', subject: 'close_tsgi1', reference: 'close_node', metric: 'rps' },
  { group: 'nginx', subject: 'ng_tsgi', reference: 'ng_node', metric: 'rps', target: 1.5 },
  { group: 'nginx', subject: 'ng_tsgi64', reference: 'ng_node', metric: 'rps', target: 1.5 },
  { group: 'nginx', subject: 'ng_tsgi', reference: 'ng_uwsgi', metric: 'rps', target: 1.0, kind: 'goal' },
  { group: 'nginx', subject: 'ng_tsgi64', reference: 'ng_uwsgi', metric: 'rps', target: 1.0, kind: 'goal' },
  // The ceiling: how far above node any upstream gets behind this nginx, and uWSGI's own ratio.
  { group: 'nginx', subject: 'ng_floor', reference: 'ng_node', metric: 'rps' },
  { group: 'nginx', subject: 'ng_uwsgi', reference: 'ng_node', metric: 'rps' },
  { group: 'nginx', subject: 'ng_tsgi', reference: 'ng_floor', metric: 'rps' },
  { group: 'longpoll', subject: 'lp_tsgi', reference: 'lp_node', metric: 'rss', target: 0.75 },
  { group: 'longpoll', subject: 'lp_tsgi', reference: 'lp_node', metric: 'rps' },
  // Where the RSS ratio comes from: each side with the other's nursery sizing.
  { group: 'longpoll', subject: 'lp_tsgi_v8', reference: 'lp_node', metric: 'rss' },
  { group: 'longpoll', subject: 'lp_tsgi', reference: 'lp_node_semi1', metric: 'rss' },
  { group: 'longpoll', subject: 'lp_tsgi_big', reference: 'lp_node_big', metric: 'rss' },
  { group: 'longpoll', subject: 'lp_tsgi_big_ramp', reference: 'lp_node_big_ramp', metric: 'rss' },
  { group: 'baseline', subject: 'bl_ka_now', reference: 'bl_ka_before', metric: 'rps' },
  { group: 'baseline', subject: 'bl_ng_now', reference: 'bl_ng_before', metric: 'rps' },
  { group: 'baseline', subject: 'bl_lp_now', reference: 'bl_lp_before', metric: 'rss' },
  { group: 'baseline', subject: 'bl_lp_now', reference: 'bl_lp_before', metric: 'rps' },
];

// ------------------------------------------------------------------------------ results

interface RunResult extends WrkResult {
  id: string;
  round: number;
  foreignPct: number;
  idleRssKb?: number;
  peakRssKb?: number;
  /** TcpExtListenOverflows during the run (machine-wide): connects the accept queue dropped. */
  listenOverflows?: number;
  /** wrk's connections per server process, busiest first ("55/9"), mid-run. */
  connSplit?: string;
  error?: string;
}

const results: RunResult[] = [];
const extraSections: string[] = [];
const notes: string[] = [];

function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return NaN;
  return n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

function fmt(value: number | undefined, digits = 0): string {
  return value === undefined || !Number.isFinite(value) ? 'n/a' : value.toFixed(digits);
}

function fmtMs(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

const mib = (kb: number | undefined) => (kb === undefined || !Number.isFinite(kb) ? 'n/a' : (kb / 1024).toFixed(1));

interface Summary {
  config: Config;
  runs: RunResult[];
  used: RunResult[];
  clean: number;
  dirty: boolean;
  rps: number;
  p50: number;
  p99: number;
  avg: number;
  peakRss: number;
  idleRss: number;
  errors: number;
  requests: number;
}

/** Medians over the clean runs (foreign CPU < FOREIGN_MAX %), or over all when < 2 are clean. */
function summarize(config: Config): Summary | undefined {
  const runs = results.filter((r) => r.id === config.id && r.error === undefined);
  if (runs.length === 0) return undefined;
  const cleanRuns = runs.filter((r) => r.foreignPct < FOREIGN_MAX);
  const used = cleanRuns.length >= 2 || cleanRuns.length === runs.length ? cleanRuns : runs;
  return {
    config, runs, used, clean: cleanRuns.length, dirty: used.length !== cleanRuns.length,
    rps: median(used.map((r) => r.rps)),
    p50: median(used.map((r) => r.p50Ms)),
    p99: median(used.map((r) => r.p99Ms)),
    avg: median(used.map((r) => r.avgMs)),
    peakRss: median(used.map((r) => r.peakRssKb ?? NaN)),
    idleRss: median(used.map((r) => r.idleRssKb ?? NaN)),
    errors: used.reduce((sum, r) => sum + r.connectErrors + r.writeErrors + r.timeouts + r.non2xx, 0),
    requests: median(used.map((r) => r.requests)),
  };
}

function range(values: number[], digits = 0): string {
  const finite = values.filter(Number.isFinite);
  if (finite.length < 2) return '';
  return ` (${Math.min(...finite).toFixed(digits)}–${Math.max(...finite).toFixed(digits)})`;
}

function wrkLine(config: Config): string {
  const split = config.split ?? 1;
  const line = `wrk ${wrkArgs(Math.round(config.conns / split), config.seconds, config.timeoutS, config.close, 'URL').map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`;
  return split === 1 ? line : `${split} × ${line}, started ${RAMP_MS} ms apart (req/s and counts summed, p50 = median, p99 = worst of the ${split})`;
}

function resultsTable(groups: Group[]): string {
  const lines = [
    '| group | config | wrk | clean/runs | req/s median (min–max) | p50 ms | p99 ms | avg ms | errors¹ | peak RSS MiB (idle) |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const config of CONFIGS.filter((c) => groups.includes(c.group))) {
    const s = summarize(config);
    const wrk = `-c${config.conns}${config.close ? ' close' : ' ka'}`;
    if (s === undefined) {
      lines.push(`| ${config.group} | ${config.id}: ${config.label} | ${wrk} | 0 | not run | | | | | |`);
      continue;
    }
    const closeReads = config.close ? '' : s.used.some((r) => r.readErrors > 0) ? ` (+${s.used.reduce((a, r) => a + r.readErrors, 0)} read)` : '';
    const splits = s.used.map((r) => r.connSplit).filter((x) => x !== undefined);
    const label = splits.length > 0 ? `${config.label} (conns per process: ${splits.join(', ')})` : config.label;
    lines.push(`| ${config.group} | ${config.id}: ${label} | ${wrk} | ${s.clean}/${s.runs.length} | **${fmt(s.rps)}**${s.dirty ? ' †' : ''}${range(s.used.map((r) => r.rps))} `
      + `| ${fmtMs(s.p50)} | ${fmtMs(s.p99)} | ${fmtMs(s.avg)} | ${s.errors}${closeReads} | ${config.sampleRss ? `${mib(s.peakRss)} (${mib(s.idleRss)})` : ''} |`);
  }
  return lines.join('\n');
}

function comparisonsTable(groups: Group[]): string {
  const lines = ['| comparison | metric | subject (median) | reference (median) | ratio of medians | same-round ratios: median (min–max)⁵ | target | verdict |', '|---|---|---|---|---|---|---|---|'];
  for (const c of COMPARISONS.filter((x) => groups.includes(x.group))) {
    const subject = CONFIGS.find((x) => x.id === c.subject)!;
    const reference = CONFIGS.find((x) => x.id === c.reference)!;
    const s = summarize(subject);
    const r = summarize(reference);
    if (!s || !r) continue;
    const a = c.metric === 'rps' ? s.rps : s.peakRss;
    const b = c.metric === 'rps' ? r.rps : r.peakRss;
    const ratio = a / b;
    const show = (v: number) => (c.metric === 'rps' ? `${fmt(v)} req/s` : `${mib(v)} MiB`);
    // Runs of one round sit next to each other in time: their ratio cancels slow drifts of the
    // machine (other VMs on the host, other people's jobs) that the foreign-CPU meter cannot see.
    const value = (x: RunResult) => (c.metric === 'rps' ? x.rps : x.peakRssKb ?? NaN);
    const paired = s.used.flatMap((x) => {
      const y = r.used.find((z) => z.round === x.round);
      return y === undefined ? [] : [value(x) / value(y)];
    });
    const pairedText = paired.length === 0 ? 'n/a' : `${median(paired).toFixed(2)}×${range(paired, 2)}${paired.length < 3 ? ` (${paired.length} pair${paired.length === 1 ? '' : 's'})` : ''}`;
    let target = 'info';
    let verdict = '';
    if (c.target !== undefined) {
      const ok = c.metric === 'rps' ? ratio >= c.target : ratio <= c.target;
      target = `${c.metric === 'rps' ? '≥' : '≤'} ${c.target.toFixed(2)}×${c.kind === 'goal' ? ' (goal)' : ''}`;
      const pairedOk = paired.length === 0 || (c.metric === 'rps' ? median(paired) >= c.target : median(paired) <= c.target);
      verdict = ok && pairedOk ? 'met' : !ok && !pairedOk ? '**missed**' : '**borderline** (the two ratios disagree)';
    }
    lines.push(`| ${subject.id} vs ${reference.id} | ${c.metric === 'rps' ? 'req/s' : 'peak RSS'} | ${show(a)} | ${show(b)} | ${Number.isFinite(ratio) ? ratio.toFixed(2) : 'n/a'}× | ${pairedText} | ${target} | ${verdict} |`);
  }
  return lines.join('\n');
}

function longpollChecks(): string {
  const lines = ['| config | conns | completed (median) of ceiling² | req/s (ceiling) | p50 ms | p99 ms | errors c/r/w/timeout/non-2xx (all runs) | all answered³ | p99 < 1.5 s | listen overflows⁴ | peak RSS MiB (idle) |', '|---|---|---|---|---|---|---|---|---|---|---|'];
  for (const config of CONFIGS.filter((c) => c.group === 'longpoll')) {
    const s = summarize(config);
    if (!s) continue;
    const expected = config.conns * Math.floor(config.seconds - 0.5);
    const ceilingRps = expected / (config.seconds + 0.08);
    const err = (k: 'connectErrors' | 'readErrors' | 'writeErrors' | 'timeouts' | 'non2xx') => s.runs.reduce((a, r) => a + r[k], 0);
    const errText = `${err('connectErrors')}/${err('readErrors')}/${err('writeErrors')}/${err('timeouts')}/${err('non2xx')}`;
    const answered = s.runs.every((r) => r.connectErrors + r.readErrors + r.writeErrors + r.timeouts + r.non2xx === 0);
    const overflows = median(s.used.map((r) => r.listenOverflows ?? NaN));
    lines.push(`| ${config.id} | ${config.conns}${config.split ? ` (${config.split} wrk)` : ''} | ${fmt(s.requests)} of ${expected} (${fmt((100 * s.requests) / expected)} %) | ${fmt(s.rps)} (${fmt(ceilingRps)}) | ${fmtMs(s.p50)} | ${fmtMs(s.p99)} | ${errText} `
      + `| ${answered ? 'yes' : '**no**'} | ${s.p99 < 1500 ? 'yes' : '**no**'} | ${fmt(overflows)} | ${mib(s.peakRss)} (${mib(s.idleRss)}) |`);
  }
  return lines.join('\n');
}

function rawTable(): string {
  const lines = ['| config | round | req/s | requests | p50 ms | p99 ms | avg ms | conn/read/write/timeout errs | non-2xx | foreign CPU % | listen overflows | peak RSS MiB | conns per process |', '|---|---|---|---|---|---|---|---|---|---|---|---|---|'];
  for (const r of results) {
    if (r.error !== undefined) {
      lines.push(`| ${r.id} | ${r.round} | failed: ${r.error.split('\n')[0]} | | | | | | | | | | |`);
      continue;
    }
    lines.push(`| ${r.id} | ${r.round} | ${fmt(r.rps)} | ${r.requests} | ${fmtMs(r.p50Ms)} | ${fmtMs(r.p99Ms)} | ${fmtMs(r.avgMs)} | ${r.connectErrors}/${r.readErrors}/${r.writeErrors}/${r.timeouts} | ${r.non2xx} | ${fmt(r.foreignPct)} | ${fmt(r.listenOverflows)} | ${mib(r.peakRssKb)} | ${r.connSplit ?? ''} |`);
  }
  return lines.join('\n');
}

function versions(): string[] {
  const first = (cmd: string, args: string[]) => {
    const out = spawnSync(cmd, args, { encoding: 'utf8' });
    return `${out.stdout ?? ''}${out.stderr ?? ''}`.trim().split('\n')[0] ?? 'n/a';
  };
  let os = '';
  try {
    os = /^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '';
  } catch {
    // not Linux?
  }
  return [
    `- machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, kernel ${first('uname', ['-r'])}, ${os}`,
    `- node ${process.version}; ${first('nginx', ['-v']).replace('nginx version: ', '')}; uWSGI ${first('uwsgi', ['--version'])}; ${first('wrk', ['-v']).split(' ').slice(0, 2).join(' ')}`,
    `- fd limit: ${first('sh', ['-c', 'echo soft $(ulimit -n), hard $(ulimit -Hn)'])}; net.core.somaxconn ${first('cat', ['/proc/sys/net/core/somaxconn'])}`,
  ];
}

function report(groups: Group[], status: string): string {
  const wrkGroups: Group[] = groups.filter((g) => g !== 'scheduler' && g !== 'profile');
  const out: string[] = [`# tsgi side-by-side benchmark — ${new Date().toISOString()}`, '', `- status: ${status}; elapsed ${Math.round((Date.now() - START) / 1000)} s; groups: ${groups.join(' ')}`, ...versions(),
    `- settings: BENCH_ROUNDS=${ROUNDS} BENCH_SECONDS=${SECONDS} BENCH_WARMUP=${WARMUP} BENCH_CONNS=${CONNS} BENCH_LONGPOLL_SECONDS=${LP_SECONDS} BENCH_LONGPOLL_CONNS=${LP_CONNS} BENCH_EXTRA_ROUNDS=${EXTRA_ROUNDS} big long-poll -c${BIG.conns}; wrk -t1 everywhere; foreign-CPU cut-off ${FOREIGN_MAX} %`,
    `- tsgi under test: ${TSGI_ROOT === ROOT ? 'dist/ as it is' : `a copy of dist/ taken at start (dist/runtime/main.js built ${BUILT_AT})`}; server logs and nginx confs: ${RUN_DIR}`, ''];
  for (const note of notes) out.push(`- note: ${note}`);
  if (wrkGroups.length > 0) {
    out.push('', '## Results (medians)', '', resultsTable(wrkGroups), '',
      '¹ connect + write errors + timeouts + non-2xx in the runs used; read errors are the server closing connections and are expected with `Connection: close` and uwsgi sockets. † median over all runs because fewer than 2 were clean (foreign CPU < cut-off).',
      '', '## Ratios and targets', '', comparisonsTable(wrkGroups), '',
      '⁵ subject/reference for the runs of the same round (adjacent in time), over the rounds where both runs are in the medians.');
    if (wrkGroups.includes('longpoll')) {
      out.push('', '## Long-poll checks', '', longpollChecks(), '',
        '² wrk counts only requests completed inside its window: each connection finishes ⌊duration − ε⌋ 1 s sleeps (9 in 10 s), so 1000 connections give at most 9000 requests ≈ 893 req/s. '
        + '³ every request wrk sent was answered: no connect/read/write errors, no timeouts, no non-2xx. '
        + '⁴ TcpExtListenOverflows during the run (machine-wide, median): handshakes the kernel dropped because the accept queue (≤ net.core.somaxconn) was full; the client retries them after 1 s, 3 s, … '
        + 'Peak RSS: VmRSS of the worker (single-process tsgi: the tsgi pid; node: the server) sampled every 100 ms during the measured run; idle RSS right before it.');
    }
    out.push('', '## Commands', '', '```');
    for (const config of CONFIGS.filter((c) => wrkGroups.includes(c.group))) out.push(`${config.id}: ${config.command}`, `    ${wrkLine(config)}${config.warmup ? ` (after ${WARMUP} s unrecorded warm-up)` : ''}`);
    out.push('nginx: nginx -p RUN/ -c RUN/nginx.conf -e RUN/error.log, conf from test/helpers/peers.ts writeNginxConf()  (1 worker; uwsgi_pass with /etc/nginx/uwsgi_params, or proxy_pass HTTP/1.0)', '```');
    out.push('', '## Every run', '', rawTable());
  }
  out.push(...extraSections);
  return out.join('\n') + '\n';
}

// ------------------------------------------------------------------------------ running

async function runOne(config: Config, round: number): Promise<void> {
  const tag = `${config.id}-r${round}`;
  let launched: Launched | undefined;
  try {
    launched = await config.launch(tag);
    if (config.warmup) await runWrk(`${tag}-warmup`, wrkArgs(config.conns, WARMUP, config.timeoutS, config.close, launched.url), WARMUP);
    await quietGate();
    const rssPid = config.sampleRss ? launched.rssPid : undefined;
    const idleRssKb = rssPid === undefined ? undefined : rssKb(rssPid);
    const stopSampling = rssPid === undefined ? undefined : sampleRss(rssPid);
    const meter = new ForeignMeter();
    const overflows0 = listenOverflows();
    let connSplit: string | undefined;
    const splitTimer = config.showConnSplit ? setTimeout(() => (connSplit = connectionSplit(launched!.url)), (config.seconds * 1000) / 2) : undefined;
    const split = config.split ?? 1;
    const outputs = await Promise.all(Array.from({ length: split }, async (_, i) => {
      await sleep(i * RAMP_MS);
      return runWrk(split === 1 ? `${tag}-wrk` : `${tag}-wrk${i}`, wrkArgs(Math.round(config.conns / split), config.seconds, config.timeoutS, config.close, launched!.url), config.seconds);
    }));
    clearTimeout(splitTimer);
    if (interrupted) return;
    const listenOverflowsDelta = listenOverflows() - overflows0;
    const foreignPct = meter.stop();
    const peakRssKb = stopSampling?.();
    const result: RunResult = { id: config.id, round, foreignPct, idleRssKb, peakRssKb, listenOverflows: listenOverflowsDelta, connSplit, ...combineWrk(outputs.map(parseWrk)) };
    results.push(result);
    const errs = result.connectErrors + result.writeErrors + result.timeouts + result.non2xx;
    progress(`  ${config.id.padEnd(15)} r${round}: ${fmt(result.rps).padStart(6)} req/s  p50 ${fmtMs(result.p50Ms).padStart(6)} ms  p99 ${fmtMs(result.p99Ms).padStart(6)} ms  `
      + `errs ${errs}${result.readErrors ? ` (+${result.readErrors} read)` : ''}  foreign ${fmt(result.foreignPct)} %${peakRssKb !== undefined ? `  RSS ${mib(idleRssKb)}→${mib(peakRssKb)} MiB` : ''}${connSplit ? `  conns/process ${connSplit}` : ''}`);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    results.push({ id: config.id, round, foreignPct: NaN, ...parseWrk(''), error: message });
    progress(`  ${config.id} r${round}: FAILED: ${message}`);
  } finally {
    for (const proc of launched?.procs ?? []) await stopProc(proc);
  }
}

async function runScheduler(): Promise<void> {
  if (!existsSync(SCHEDULER_BENCH)) {
    extraSections.push('', '## Green scheduler micro-benchmark', '', `not run: ${SCHEDULER_BENCH} is missing (npm run build)`);
    return;
  }
  progress('scheduler micro-benchmark (bench/scheduler.bench.ts, median of 5 × 1e6)');
  await quietGate();
  const proc = new Proc('scheduler-bench', ['node', SCHEDULER_BENCH], 'SIGTERM');
  await proc.done;
  await stopProc(proc, 1000);
  const text = proc.output.trim();
  for (const line of text.split('\n')) progress(`  ${line}`);
  extraSections.push('', '## Green scheduler micro-benchmark', '', 'node dist/bench/scheduler.bench.js:', '', text.includes('|') ? text : '```\n' + text + '\n```');
}

// ---- profile: where a tsgi worker spends its time (node --cpu-prof)

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

function topSelfTime(file: string, top = 20): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!)!;
    const dt = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0;
    const frame = node.callFrame;
    const where = frame.url ? `${frame.url.replace(`file://${TSGI_ROOT}/`, '').replace(`file://${ROOT}/`, '')}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  }
  const idle = [...self].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0);
  const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, top);
  const lines = [`total ${(total / 1e6).toFixed(2)} s sampled, idle ${((100 * idle) / total).toFixed(1)} %`, '', '| self % | self ms | function |', '|---|---|---|'];
  for (const [key, us] of rows) lines.push(`| ${((100 * us) / total).toFixed(1)} | ${(us / 1000).toFixed(0)} | \`${key}\` |`);
  return lines.join('\n');
}

async function runProfiles(): Promise<void> {
  const targets: Array<{ id: string; label: string; run: (tag: string, dir: string) => Promise<{ procs: Proc[]; url: string; close: boolean }> }> = [
    {
      id: 'prof_ka_tsgi1', label: `tsgi --http-socket, single process, keep-alive wrk -c${CONNS}`,
      run: async (tag, dir) => {
        const { proc, port } = await launchTsgi(tag, 'http', 'hello_tsgi', [], ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
        return { procs: [proc], url: U(port), close: false };
      },
    },
    {
      id: 'prof_close_tsgi2', label: `tsgi --http-socket --master --processes 2, Connection: close wrk -c${CONNS} (worker profiles)`,
      run: async (tag, dir) => {
        const { proc, port } = await launchTsgi(tag, 'http', 'hello_tsgi', ['--master', '--processes', '2'], ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
        return { procs: [proc], url: U(port), close: true };
      },
    },
    {
      id: 'prof_ng_tsgi64', label: `nginx → uwsgi_pass → tsgi --socket --async 64, keep-alive wrk -c${CONNS} (tsgi profile)`,
      run: async (tag, dir) => {
        const up = await launchTsgi(tag, 'uwsgi', 'hello_tsgi', ['--async', '64'], ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
        const front = await launchNginx(tag, up.port, 'uwsgi');
        return { procs: [front.proc, up.proc], url: U(front.port), close: false };
      },
    },
  ];
  extraSections.push('', '## Profiles (node --cpu-prof, top self time)');
  for (const target of targets) {
    const dir = join(RUN_DIR, `${target.id}-cpuprof`);
    mkdirSync(dir, { recursive: true });
    let procs: Proc[] = [];
    try {
      const launched = await target.run(target.id, dir);
      procs = launched.procs;
      await runWrk(`${target.id}-warmup`, wrkArgs(CONNS, Math.max(WARMUP, 1), 2, launched.close, launched.url), 1);
      await quietGate();
      const output = await runWrk(`${target.id}-wrk`, wrkArgs(CONNS, SECONDS, 2, launched.close, launched.url), SECONDS);
      const result = parseWrk(output);
      progress(`  ${target.id}: ${fmt(result.rps)} req/s under --cpu-prof`);
      for (const proc of procs) await stopProc(proc, 15000);
      const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f));
      extraSections.push('', `### ${target.label}`, '', `${fmt(result.rps)} req/s while profiling; ${files.length} profile(s) in ${dir}`);
      // The busiest profiles: the workers (a master's profile is nearly all idle).
      const ranked = files.map((f) => ({ f, busy: busyShare(f) })).sort((a, b) => b.busy - a.busy);
      for (const { f } of ranked.slice(0, target.id === 'prof_close_tsgi2' ? 2 : 1)) extraSections.push('', `\`${f.split('/').pop()}\`: ${topSelfTime(f)}`);
    } catch (error) {
      extraSections.push('', `### ${target.label}`, '', `failed: ${error instanceof Error ? error.message : String(error)}`);
      progress(`  ${target.id}: FAILED: ${String(error)}`);
    } finally {
      for (const proc of procs) await stopProc(proc);
      }
  }
}

function busyShare(file: string): number {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[] };
  const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  return profile.samples.filter((s) => !idle.has(s)).length;
}

// ------------------------------------------------------------------------------ main

function usage(): never {
  process.stdout.write(`usage: node dist/bench/run.js [GROUP ...]   |   node dist/bench/run.js --report bench/out/STAMP.json\n  groups: ${GROUPS.join(' ')} (default: ${DEFAULT_GROUPS.join(' ')})\n`
    + '  env: BENCH_ROUNDS BENCH_SECONDS BENCH_WARMUP BENCH_CONNS BENCH_LONGPOLL_SECONDS BENCH_LONGPOLL_CONNS BENCH_LONGPOLL_BIG_CONNS\n'
    + '       BENCH_BASE_PORT BENCH_QUIET_PCT BENCH_QUIET_BUDGET BENCH_QUIET_WAIT BENCH_EXTRA_ROUNDS BENCH_FOREIGN_MAX BENCH_OUT (see the top of bench/run.ts)\n');
  process.exit(0);
}

function missingTools(groups: Group[]): string[] {
  const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
  const missing: string[] = [];
  const wrkNeeded = groups.some((g) => g !== 'scheduler');
  if (wrkNeeded && !has('wrk')) missing.push('wrk');
  if ((groups.includes('nginx') || groups.includes('profile')) && !has('nginx')) missing.push('nginx');
  if (groups.includes('nginx')) {
    if (!has('uwsgi')) missing.push('uwsgi-core');
    if (!existsSync('/usr/lib/uwsgi/plugins/python3_plugin.so')) missing.push('uwsgi-plugin-python3');
  }
  return missing;
}

let finished = false;
let reportGroups: Group[] = [];

function writeReport(status: string): string {
  mkdirSync(OUT_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const path = join(OUT_DIR, `${stamp}.md`);
  const text = report(reportGroups, status);
  writeFileSync(path, text);
  writeFileSync(join(OUT_DIR, `${stamp}.json`), JSON.stringify({ settings: { ROUNDS, SECONDS, WARMUP, CONNS, LP_SECONDS, LP_CONNS, BIG: BIG.conns }, groups: reportGroups, status, notes, extraSections, results }, null, 1));
  return path;
}

/** `--report FILE.json`: the Markdown report of a saved run, rendered by this version of the runner. */
function regenerate(file: string): void {
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { groups?: Group[]; status?: string; notes?: string[]; extraSections?: string[]; results: RunResult[] };
  results.push(...saved.results.map((r) => ({ ...r, listenOverflows: r.listenOverflows ?? undefined })));
  notes.push(...(saved.notes ?? []), `regenerated from ${file}`);
  extraSections.push(...(saved.extraSections ?? []));
  const groups = saved.groups ?? GROUPS.filter((g) => CONFIGS.some((c) => c.group === g && results.some((r) => r.id === c.id)));
  process.stdout.write(report(groups, saved.status ?? 'saved run'));
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('-h') || args.includes('--help')) usage();
  if (args[0] === '--report' && args[1]) return regenerate(args[1]);
  for (const arg of args) if (!GROUPS.includes(arg as Group)) throw new Error(`unknown group ${JSON.stringify(arg)} (groups: ${GROUPS.join(' ')})`);
  const groups: Group[] = args.length > 0 ? GROUPS.filter((g) => args.includes(g)) : DEFAULT_GROUPS;
  reportGroups = groups;
  const missing = missingTools(groups);
  if (missing.length > 0) {
    process.stderr.write(`missing: ${missing.join(', ')}\ninstall with: apt-get install -y ${missing.join(' ')}\n`);
    process.exit(2);
  }
  if (!existsSync(TSGI_MAIN)) throw new Error(`${TSGI_MAIN} is missing: run npm run build first`);
  if (BIG.note && groups.includes('longpoll')) notes.push(BIG.note);
  progress(`groups: ${groups.join(' ')}; ${ROUNDS} round(s); logs in ${RUN_DIR}`);

  const configs = CONFIGS.filter((c) => groups.includes(c.group));
  if (configs.length > 0) {
    const perRound = configs.reduce((a, c) => a + c.seconds + (c.warmup ? WARMUP : 0) + 2, 0);
    progress(`${configs.length} configurations, about ${Math.round((perRound * ROUNDS) / 60)} min of wrk`);
    for (let round = 1; round <= ROUNDS; round++) {
      progress(`round ${round}/${ROUNDS}`);
      for (const config of configs) await runOne(config, round);
    }
    for (let extra = 1; extra <= EXTRA_ROUNDS; extra++) {
      const dirty = configs.filter((c) => results.filter((r) => r.id === c.id && r.error === undefined && r.foreignPct < FOREIGN_MAX).length < ROUNDS);
      if (dirty.length === 0) break;
      progress(`extra round ${extra}/${EXTRA_ROUNDS} for configurations with fewer than ${ROUNDS} clean runs: ${dirty.map((c) => c.id).join(' ')}`);
      for (const config of dirty) await runOne(config, ROUNDS + extra);
    }
  }
  if (groups.includes('scheduler')) await runScheduler();
  if (groups.includes('profile')) await runProfiles();

  finished = true;
  const path = writeReport('complete');
  const wrkGroups: Group[] = groups.filter((g) => g !== 'scheduler' && g !== 'profile');
  if (wrkGroups.length > 0) {
    process.stdout.write(`\n${resultsTable(wrkGroups)}\n\n${comparisonsTable(wrkGroups)}\n`);
    if (wrkGroups.includes('longpoll')) process.stdout.write(`\n${longpollChecks()}\n`);
  }
  process.stdout.write(`${extraSections.join('\n')}\n\nreport: ${path}\n`);
}

let interrupted = false;
async function interrupt(signal: string): Promise<void> {
  if (interrupted) return;
  interrupted = true;
  progress(`${signal}: stopping everything this runner started`);
  await stopAll();
  if (results.length > 0 && !finished) progress(`partial report: ${writeReport(`interrupted by ${signal}`)}`);
  process.exit(130);
}

// These handlers stop everything gracefully and write a partial report; processes.ts's exit hook
// still SIGKILLs any process group left behind.
handleSignals(false);
process.on('SIGINT', () => void interrupt('SIGINT'));
process.on('SIGTERM', () => void interrupt('SIGTERM'));
process.on('SIGHUP', () => void interrupt('SIGHUP'));

main().catch(async (error: unknown) => {
  progress(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  await stopAll();
  if (results.length > 0 && !finished) progress(`partial report: ${writeReport('failed')}`);
  process.exit(1);
});

