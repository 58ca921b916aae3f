/**
 * Vassal files and process checks for the Emperor tests: a vassal is a whole tsgi instance
 * (test/apps/vassal.js behind an HTTP socket), written as ini, yaml or json.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { FIXTURE_APPS, sleep } from './tsgi.js';

export type VassalFormat = 'ini' | 'yaml' | 'json';

/** The options of a small vassal on `port`: a master with one worker, or a single process. */
export function vassalOptions(port: number, extra: Record<string, string> = {}): Record<string, string> {
  return { 'http-socket': `127.0.0.1:${port}`, chdir: FIXTURE_APPS, module: 'vassal', async: '20', master: 'true', processes: '1', 'reload-mercy': '5', ...extra };
}

export function vassalText(format: VassalFormat, options: Record<string, string>): string {
  const entries = Object.entries(options);
  if (format === 'ini') return `[uwsgi]\n${entries.map(([k, v]) => `${k} = ${v}`).join('\n')}\n`;
  if (format === 'yaml') return `uwsgi:\n${entries.map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`).join('\n')}\n`;
  return JSON.stringify({ uwsgi: options }, null, 2);
}

export function writeVassal(path: string, format: VassalFormat, options: Record<string, string>): void {
  writeFileSync(path, vassalText(format, options));
}

/** Whether `pid` runs (a zombie does not). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

/** Every pid the Emperor's log says it spawned: vassal masters, their workers, single processes. */
export function spawnedPids(log: string): number[] {
  return [...log.matchAll(/spawned (?:vassal \S+|worker \d+) \(pid (\d+)\)|ready \(pid (\d+)\)/g)].map((m) => Number(m[1] ?? m[2]));
}

export async function until(check: () => boolean | Promise<boolean>, what: string, log: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}:\n${log()}`);
    await sleep(100);
  }
}

/** The real uid of a running process, from /proc. */
export function uidOf(pid: number): number {
  return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}
