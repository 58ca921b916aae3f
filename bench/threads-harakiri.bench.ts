/**
 * How fast a stuck request's unit is replaced: a request in `for (;;) {}` under `--harakiri 1`,
 * `samples` times, with `--threads 2` (the supervisor terminates the thread and starts another)
 * and without threads (the master SIGKILLs the worker process and respawns it). Times each of
 * tsgi's log lines as it arrives: from the HARAKIRI line to the replacement's ready line, and
 * the `Worker.terminate()` time the supervisor logs.
 *
 *   npm run build && node dist/bench/threads-harakiri.bench.js [samples=5]
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { httpGet, sleep } from '../test/helpers/tsgi.js';
import { median } from './common.js';
import { pickPort } from '../test/helpers/ports.js';
import { stopAll, track } from '../test/helpers/processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const samples = Number(process.argv[2] ?? 5);

async function measure(label: string, extra: string[], killed: RegExp, ready: RegExp): Promise<void> {
  const port = await pickPort();
  const args = ['dist/runtime/main.js', '--http-socket', `127.0.0.1:${port}`, '--wsgi-file', 'test/apps/threads.js', '--master', '--harakiri', '1', '--disable-logging', ...extra];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  const lines: Array<[number, string]> = [];
  let partial = '';
  track(label, child, { output: () => lines.map(([, line]) => line).join('\n') });
  child.stderr!.on('data', (chunk: Buffer) => {
    partial += chunk;
    for (let end = partial.indexOf('\n'); end >= 0; end = partial.indexOf('\n')) {
      lines.push([performance.now(), partial.slice(0, end)]);
      partial = partial.slice(end + 1);
    }
  });
  const find = (from: number, pattern: RegExp) => lines.slice(from).find(([, line]) => pattern.test(line));
  while (find(0, /all 1 workers ready/) === undefined) await sleep(20);
  const replaced: number[] = [];
  const terminated: number[] = [];
  for (let i = 0; i < samples; i++) {
    const mark = lines.length;
    await httpGet({ port }, '/forever').catch(() => {});
    while (find(mark, ready) === undefined) await sleep(5);
    replaced.push(find(mark, ready)![0] - find(mark, killed)![0]);
    const took = find(mark, /terminated in ([\d.]+) ms/);
    if (took) terminated.push(Number(/terminated in ([\d.]+) ms/.exec(took[1])![1]));
  }
  const list = (values: number[]) => values.map((value) => value.toFixed(0)).join(', ');
  console.log(`${label}: HARAKIRI → replacement ready ${list(replaced)} ms (median ${median(replaced).toFixed(0)})`
    + (terminated.length > 0 ? `; Worker.terminate() ${terminated.map((ms) => ms.toFixed(1)).join(', ')} ms (median ${median(terminated).toFixed(1)})` : ''));
}

try {
  await measure('thread (--threads 2)', ['--threads', '2'], /HARAKIRI ON WORKER 1 THREAD/, /\[worker 1 thread \d\] ready/);
  await measure('process (no threads)', [], /HARAKIRI ON WORKER 1/, /\[worker 1\] ready/);
} finally {
  await stopAll();
}
