/**
 * The Emperor, side by side with real uWSGI's: BENCH_VASSALS (50) trivial vassals (a hello
 * world behind `--http-socket`; 49 single processes and one master with one worker, the one
 * that is reloaded), written as ini files in one directory. Per configuration and round:
 *
 *   start-up  — from spawning the Emperor until every vassal answers 200,
 *   RSS       — of the Emperor process itself once all answer (VmRSS),
 *   reload    — one client loop per vassal (a new connection per request) for BENCH_SECONDS (6);
 *               after 1 s vassal 0's file is touched (graceful reload); failed requests are
 *               counted for it and for the 49 others.
 *
 *   npm run build && BENCH_ROUNDS=2 node dist/bench/emperor.bench.js
 *
 * Needs uWSGI with the python3 plugin (Debian uwsgi-core, uwsgi-plugin-python3).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './common.js';
import { pickPort } from '../test/helpers/ports.js';
import { httpGet, tempDir } from '../test/helpers/tsgi.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const APPS = join(ROOT, 'bench/apps');
const MAIN = join(ROOT, 'dist/runtime/main.js');
const VASSALS = Number(process.env.BENCH_VASSALS ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);

interface Side {
  name: string;
  vassal(port: number, reloadable: boolean): string;
  emperor(dir: string): ChildProcess;
  stopSignal: NodeJS.Signals;
}

const SIDES: Side[] = [
  {
    name: 'tsgi --emperor',
    vassal: (port, reloadable) => `[uwsgi]\nhttp-socket = 127.0.0.1:${port}\nchdir = ${APPS}\nmodule = hello_tsgi\ndisable-logging = true\n${reloadable ? 'master = true\nprocesses = 1\n' : ''}`,
    emperor: (dir) => spawn(process.execPath, [MAIN, '--emperor', dir, '--emperor-freq', '1'], { stdio: ['ignore', 'ignore', 'pipe'] }),
    stopSignal: 'SIGTERM',
  },
  {
    name: 'uwsgi --emperor',
    vassal: (port, reloadable) => `[uwsgi]\nplugins = python3\nhttp-socket = 127.0.0.1:${port}\nchdir = ${APPS}\nwsgi-file = hello.py\ndisable-logging = true\n${reloadable ? 'master = true\nprocesses = 1\n' : ''}`,
    emperor: (dir) => spawn('uwsgi', ['--emperor', dir, '--emperor-freq', '1'], { stdio: ['ignore', 'ignore', 'pipe'] }),
    stopSignal: 'SIGINT',
  },
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ok = async (port: number) => (await httpGet({ port, host: '127.0.0.1' }).catch(() => ({ status: 0 }))).status === 200;
const rssMiB = (pid: number) => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

interface Run {
  startupS: number;
  rssMiB: number;
  reloadedFailed: number;
  reloadedDone: number;
  othersFailed: number;
  othersDone: number;
}

async function runOnce(side: Side): Promise<Run> {
  const dir = tempDir();
  const ports: number[] = [];
  for (let i = 0; i < VASSALS; i++) ports.push(await pickPort());
  ports.forEach((port, i) => writeFileSync(join(dir, `v${String(i).padStart(2, '0')}.ini`), side.vassal(port, i === 0)));
  const started = Date.now();
  const emperor = side.emperor(dir);
  emperor.stderr!.resume();
  try {
    const pending = new Set(ports);
    while (pending.size > 0) {
      if (Date.now() - started > 120_000) throw new Error(`${side.name}: ${pending.size} vassals never answered`);
      await Promise.all([...pending].map(async (port) => (await ok(port)) && pending.delete(port)));
      if (pending.size > 0) await sleep(50);
    }
    const startupS = (Date.now() - started) / 1000;
    const rss = rssMiB(emperor.pid!);
    await sleep(1500); // the loyal bytes, and the Emperor's scan, settle
    const counts = ports.map(() => ({ done: 0, failed: 0 }));
    let running = true;
    const loops = ports.map(async (port, i) => {
      while (running) {
        if (await ok(port)) counts[i]!.done++;
        else counts[i]!.failed++;
      }
    });
    await sleep(1000);
    const future = new Date(Date.now() + 10_000);
    utimesSync(join(dir, 'v00.ini'), future, future);
    await sleep((SECONDS - 1) * 1000);
    running = false;
    await Promise.all(loops);
    const others = counts.slice(1);
    return {
      startupS, rssMiB: rss,
      reloadedFailed: counts[0]!.failed, reloadedDone: counts[0]!.done,
      othersFailed: others.reduce((n, c) => n + c.failed, 0), othersDone: others.reduce((n, c) => n + c.done, 0),
    };
  } finally {
    emperor.kill(side.stopSignal);
    const exited = new Promise((resolve) => emperor.once('exit', resolve));
    await Promise.race([exited, sleep(30_000)]);
    if (emperor.exitCode === null && emperor.signalCode === null) emperor.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = new Map<string, Run[]>(SIDES.map((side) => [side.name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const side of SIDES) {
    const run = await runOnce(side);
    results.get(side.name)!.push(run);
    console.log(`round ${round + 1} ${side.name}: ${JSON.stringify(run)}`);
    await sleep(2000);
  }
}
const med = (name: string, key: keyof Run) => median(results.get(name)!.map((run) => run[key]));
console.log(`\n${VASSALS} vassals, ${ROUNDS} round(s), medians:`);
console.log('| Emperor | start-up until all answer (s) | Emperor RSS (MiB) | reloaded vassal: failed / done | 49 others: failed / done |');
console.log('|---|---|---|---|---|');
for (const side of SIDES) {
  const n = side.name;
  console.log(`| ${n} | ${med(n, 'startupS').toFixed(2)} | ${med(n, 'rssMiB').toFixed(1)} | ${med(n, 'reloadedFailed')} / ${med(n, 'reloadedDone')} | ${med(n, 'othersFailed')} / ${med(n, 'othersDone')} |`);
}
const [a, b] = SIDES.map((side) => side.name) as [string, string];
console.log(`\nratios tsgi/uWSGI: start-up ${(med(a, 'startupS') / med(b, 'startupS')).toFixed(2)}×, Emperor RSS ${(med(a, 'rssMiB') / med(b, 'rssMiB')).toFixed(2)}×`);
