/**
 * The one record of child processes that tests and benchmarks start (tsgi servers, nginx, uWSGI,
 * cgi-fcgi, redis, load clients). Every tracked child is stopped when this process exits, also
 * after an uncaught error, and on SIGINT/SIGTERM/SIGHUP (unless the caller handles those itself:
 * {@link handleSignals}). A child spawned with `parentDeathSignal` also gets its stop signal from
 * the kernel if this process dies without running any handler (PR_SET_PDEATHSIG through
 * util-linux `setpriv`, which execs: the pid stays the same).
 *
 * A child in its own process group (`group: true`, spawned with `detached: true`) is stopped as a
 * group: its stop signal goes to the child, then whatever is left of the group gets SIGKILL, so
 * the workers of a tsgi master go with it.
 *
 * @example
 * const redis = spawnTracked('redis', 'redis-server', ['--port', String(port)]);
 * try { ... } finally { await redis.stop(); }
 */
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

/** A child process in the record. */
export interface TrackedProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  /** The signal that makes this program shut down (nginx, tsgi: SIGTERM; uWSGI: SIGINT). */
  stopSignal: NodeJS.Signals;
  /** The child leads its own process group, which is stopped with it. */
  group: boolean;
  /** Everything the process wrote to stdout and stderr so far (as captured by its owner). */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** Set when `stop()` had to SIGKILL because the stop signal was not enough within the grace time. */
  forceKilled: boolean;
  /**
   * Sends `stopSignal`, waits up to `graceMs` for the exit (and, for a group, for the group to
   * empty), then SIGKILLs (the group); resolves once it has exited and leaves the record.
   */
  stop(graceMs?: number): Promise<number | string>;
}

export interface TrackOptions {
  stopSignal?: NodeJS.Signals;
  /** The child was spawned with `detached: true` and leads its own process group. */
  group?: boolean;
  /** Where the owner keeps the child's output; without it stdout/stderr are captured here. */
  output?: () => string;
}

/** Children still running, in start order. */
const live = new Set<TrackedProcess>();
let exitHookInstalled = false;
let signalsHandled = true;
const signalsInstalled = new Set<NodeJS.Signals>();
const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

function send(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Every tracked child gets its stop signal (a group: SIGKILL to the whole group) at once. */
export function killAllNow(): void {
  for (const proc of live) {
    if (proc.pid <= 0) continue;
    if (proc.group) send(-proc.pid, 'SIGKILL');
    else send(proc.pid, proc.stopSignal);
  }
}

function installHandlers(): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killAllNow);
  }
  if (!signalsHandled) return;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    if (signalsInstalled.has(signal)) continue;
    signalsInstalled.add(signal);
    process.once(signal, () => {
      killAllNow();
      process.exit(128 + SIGNAL_NUMBERS[signal]!);
    });
  }
}

/**
 * Whether this module answers SIGINT/SIGTERM/SIGHUP by stopping every child and exiting (the
 * default). A program with handlers of its own (bench/run.ts writes a partial report) turns it
 * off before starting anything and calls {@link stopAll} itself; the exit hook stays either way.
 */
export function handleSignals(enabled: boolean): void {
  signalsHandled = enabled;
}

/** A process as /proc/PID/stat shows it. */
export interface ProcStat {
  ppid: number;
  pgrp: number;
  state: string;
  /** utime + stime, in clock ticks */
  ticks: number;
}

/** Every process's /proc/PID/stat, by pid (a process gone while reading is skipped). */
export function readProcStats(): Map<number, ProcStat> {
  const stats = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    const first = entry.charCodeAt(0);
    if (first < 48 || first > 57) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${entry}/stat`, 'latin1');
    } catch {
      continue;
    }
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    stats.set(Number(entry), { state: f[0]!, ppid: Number(f[1]), pgrp: Number(f[2]), ticks: Number(f[11]) + Number(f[12]) });
  }
  return stats;
}

/** Pids of the members of process group `pgid` still running (zombies excluded), from /proc. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const [pid, stat] of readProcStats()) if (stat.pgrp === pgid && stat.state !== 'Z') members.push(pid);
  return members;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Adds an already spawned child to the record. */
export function track(name: string, child: ChildProcess, opts: TrackOptions = {}): TrackedProcess {
  installHandlers();
  const stopSignal = opts.stopSignal ?? 'SIGTERM';
  let out = '';
  if (opts.output === undefined) {
    child.stdout?.on('data', (chunk: Buffer) => void (out += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => void (out += chunk.toString()));
  }
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const exited = new Promise<number | string>((resolve) => {
    if (gone()) return resolve(child.exitCode ?? child.signalCode ?? -1);
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1));
    child.on('error', () => {
      if (child.pid === undefined) resolve(-1); // never started (ENOENT): no exit event follows
    });
  });
  const group = opts.group ?? false;
  const groupAlive = () => group && child.pid !== undefined && groupMembers(child.pid).length > 0;
  const proc: TrackedProcess = {
    name,
    child,
    pid: child.pid ?? -1,
    stopSignal,
    group,
    output: opts.output ?? (() => out),
    exited,
    forceKilled: false,
    async stop(graceMs = 5000) {
      if (child.pid !== undefined) {
        if (!gone()) child.kill(stopSignal);
        const deadline = Date.now() + graceMs;
        while (Date.now() < deadline && (!gone() || groupAlive())) await sleep(25);
        if (!gone() || groupAlive()) {
          proc.forceKilled = true;
          if (group) send(-child.pid, 'SIGKILL');
          else child.kill('SIGKILL');
          await Promise.race([exited, sleep(2000)]);
        }
      }
      live.delete(proc);
      return exited;
    },
  };
  live.add(proc);
  void exited.then(() => {
    // A group leader that exited may leave members behind: keep it until stop() has seen to them.
    if (!group) live.delete(proc);
  });
  return proc;
}

let pdeathsig: boolean | null = null;
/** `setpriv --pdeathsig SIG -- cmd args` when util-linux's setpriv supports it, else cmd as is. */
export function withParentDeathSignal(command: string, args: string[], signal: NodeJS.Signals): [string, string[]] {
  if (pdeathsig === null) {
    const help = spawnSync('setpriv', ['--help'], { encoding: 'utf8' });
    pdeathsig = help.status === 0 && help.stdout.includes('--pdeathsig');
  }
  return pdeathsig ? ['setpriv', ['--pdeathsig', signal, '--', command, ...args]] : [command, args];
}

export interface SpawnTrackedOptions {
  cwd?: string;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  stopSignal?: NodeJS.Signals;
  /** Its own process group (detached), stopped as a group. */
  group?: boolean;
  /** The kernel sends `stopSignal` if this process dies (see the module comment). */
  parentDeathSignal?: boolean;
  /** Default: stdin closed, stdout and stderr captured. */
  stdio?: StdioOptions;
}

/** Spawns `command args` and tracks it; a spawn error (ENOENT) shows up as an exit of -1. */
export function spawnTracked(name: string, command: string, args: string[], opts: SpawnTrackedOptions = {}): TrackedProcess {
  const stopSignal = opts.stopSignal ?? 'SIGTERM';
  const [cmd, argv] = opts.parentDeathSignal ? withParentDeathSignal(command, args, stopSignal) : [command, args];
  const child = spawn(cmd, argv, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'],
    detached: opts.group ?? false,
  });
  child.on('error', () => {}); // ENOENT and friends show up as the exit
  return track(name, child, { stopSignal, group: opts.group });
}

/** The children still in the record, in start order. */
export function trackedProcesses(): TrackedProcess[] {
  return [...live];
}

/** Stops every tracked child, the last started first; resolves with them once all have exited. */
export async function stopAll(graceMs = 5000): Promise<TrackedProcess[]> {
  const procs = [...live].reverse();
  for (const proc of procs) await proc.stop(graceMs);
  return procs;
}
