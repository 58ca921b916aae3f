/**
 * Reading a Prometheus / OpenMetrics exposition in tests, and checking it with Debian's real
 * `promtool` (package prometheus): `check metrics` lints the Prometheus text format, and
 * `tsdb create-blocks-from openmetrics` runs Prometheus' strict OpenMetrics parser over it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Sample lines as `name{labels}` → value, labels as written (`worker="1",le="0.1"`). */
export function samples(text: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(\S+?(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match === null) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    map.set(match[1]!, Number(match[2]!.replace('+Inf', 'Infinity')));
  }
  return map;
}

/** The sum of every sample of `name` whose labels include `having` (e.g. 'le="0.1"'). */
export function total(map: Map<string, number>, name: string, having = ''): number {
  let sum = 0;
  for (const [key, value] of map) if ((key === name || key.startsWith(`${name}{`)) && key.includes(having)) sum += value;
  return sum;
}

/** `promtool check metrics` on `text`: its exit status and what it printed. */
export function promtoolCheck(text: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/**
 * Prometheus' OpenMetrics parser on `text` (promtool's backfill, which needs a timestamp on
 * every sample: one is appended to each sample line, the rest is checked as scraped).
 */
export function promtoolOpenMetrics(text: string): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-om-'));
  try {
    const stamped = text.split('\n').map((line) => (line === '' || line.startsWith('#') ? line : `${line} 1700000000`)).join('\n');
    writeFileSync(join(dir, 'input.om'), stamped);
    const run = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', join(dir, 'input.om'), join(dir, 'blocks')], { encoding: 'utf8' });
    if (run.error) throw run.error;
    return { status: run.status, output: `${run.stdout}${run.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
