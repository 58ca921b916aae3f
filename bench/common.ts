/** What several benchmarks share: medians, how busy the machine is, a wrk run, a process's CPU time (ports: test/helpers/ports.ts). */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Busy share of all CPUs over `ms`, from /proc/stat (0-100): runs taken under foreign load are flagged. */
export async function machineBusy(ms = 300): Promise<number> {
  const sample = () => {
    const fields = readFileSync('/proc/stat', 'latin1').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = fields[3]! + (fields[4] ?? 0);
    return { idle, total: fields.reduce((a, b) => a + b, 0) };
  };
  const before = sample();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = sample();
  const total = after.total - before.total;
  return total > 0 ? 100 * (1 - (after.idle - before.idle) / total) : 0;
}

function toMs(text: string | undefined): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(text ?? '');
  return match ? Number(match[1]) * { us: 0.001, ms: 1, s: 1000 }[match[2] as 'us' | 'ms' | 's'] : NaN;
}

export interface WrkRun {
  output: string;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx/3xx responses plus socket errors. */
  errors: number;
  requests: number;
}

/** `wrk -t1 -cCONNS` keep-alive clients on `url` for `seconds`. */
export function wrk(url: string, seconds: number, conns: number): WrkRun {
  const result = spawnSync('wrk', ['-t1', `-c${conns}`, `-d${seconds}s`, '--timeout', '5s', '--latency', url], { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  if (result.status !== 0) throw new Error(`wrk failed: ${result.error?.message ?? result.stderr}`);
  const output = result.stdout;
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  return {
    output,
    rps: Number(/^Requests\/sec:\s+([\d.]+)/m.exec(output)?.[1] ?? NaN),
    p50Ms: toMs(/^\s+50%\s+(\S+)/m.exec(output)?.[1]),
    p99Ms: toMs(/^\s+99%\s+(\S+)/m.exec(output)?.[1]),
    errors: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0) + (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0),
    requests: Number(/(\d+) requests in/.exec(output)?.[1] ?? NaN),
  };
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime + stime of `pid`, in seconds. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}
