/** What several benchmarks share: medians and how busy the machine is (ports: test/helpers/ports.ts). */
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
