#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) in its own process, one after the
// other (integration tests start real servers; running them in parallel on 2 cores would
// make their timing checks flaky), and ends with the plain "N passed, N failed" line CI reads.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist', 'test');
const filter = process.argv[2];

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return find(path);
    return name.endsWith('.test.js') ? [path] : [];
  });
}

let passed = 0;
let failed = 0;
const failures = [];
// A compiled test whose source is gone (moved or split since the last build: tsc never deletes
// outputs) would run a second, stale copy: only files with a test/**/*.test.ts source run.
const hasSource = (file) => existsSync(join(root, 'test', relative(dist, file)).replace(/\.js$/, '.ts'));
const files = find(dist).sort().filter((file) => hasSource(file) && (!filter || file.includes(filter)));
for (const file of files) {
  const name = relative(dist, file);
  const started = Date.now();
  const run = spawnSync(process.execPath, [file], { cwd: root, env: { ...process.env, NO_COLOR: '1' }, encoding: 'utf8', timeout: 600_000 });
  const output = `${run.stdout}${run.stderr}`;
  const total = Number(/Total:\s+(\d+)/.exec(output)?.[1] ?? 0);
  const ok = Number(/Passed:\s+(\d+)/.exec(output)?.[1] ?? 0);
  // uvu's Total leaves skipped tests out already. A file that crashed before uvu printed its
  // totals counts as one failure.
  const bad = run.status === 0 ? total - ok : Math.max(1, total - ok);
  passed += ok;
  failed += bad;
  console.log(`${bad ? 'FAIL' : 'ok  '} ${name}: ${ok} passed, ${bad} failed (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  if (bad) failures.push(`--- ${name}\n${output}`);
}
for (const failure of failures) console.log(failure);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && files.length > 0 ? 0 : 1);
