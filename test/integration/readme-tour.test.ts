/**
 * The README's Quick tour runs as written from the repository: every line is `npx tsgi …`, is
 * accepted by tsgi (run with --dry-run appended), and names a directory and app that exist.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from '../helpers/tsgi.js';

/** The lines of the first indented (code) block under "## Quick tour", comments removed. */
function tourLines(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Quick tour\n');
  assert.ok(start >= 0, 'README has a Quick tour');
  const section = readme.slice(start + 1).split('\n');
  const lines = section.slice(section.findIndex((line) => line.startsWith('    ')));
  const block = lines.slice(0, lines.findIndex((line) => !line.startsWith('    ')));
  return block.map((line) => line.replace(/\s+#.*$/, '').trim());
}

/** The options of tsgi's --dry-run output (an ini of the effective configuration). */
function shown(output: string): Map<string, string> {
  const options = new Map<string, string>();
  for (const line of output.split('\n')) {
    const eq = line.indexOf(' = ');
    if (eq > 0) options.set(line.slice(0, eq), line.slice(eq + 3).replace(/%%/g, '%'));
  }
  return options;
}

test('every Quick tour line is `npx tsgi …`, passes --dry-run from the repository, and its app exists', () => {
  const lines = tourLines();
  assert.ok(lines.length >= 8, `the tour has its lines (${lines.length})`);
  for (const line of lines) {
    assert.ok(line.startsWith('npx tsgi '), `"${line}" runs as written: tsgi is not on PATH, npx tsgi is (package.json bin)`);
    assert.not.match(line, /["'`$\\|;&<>]/, `"${line}" needs no shell quoting, so splitting on spaces is what the shell does`);
    const args = line.split(/\s+/).slice(2);
    // --no-install: resolve the repository's own bin, never fetch a package of that name.
    const run = spawnSync('npx', ['--no-install', 'tsgi', ...args, '--dry-run'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    assert.is(run.status, 0, `"${line} --dry-run" exits 0:\n${run.stdout}${run.stderr}`);
    const options = shown(run.stdout);
    const chdir = options.get('chdir') ?? '.';
    const dir = isAbsolute(chdir) ? chdir : join(ROOT, chdir);
    assert.ok(existsSync(dir), `"${line}": --chdir ${chdir} exists`);
    const module = options.get('module')?.split(':')[0];
    const file = options.get('wsgi-file');
    assert.ok(module !== undefined || file !== undefined, `"${line}" names an app`);
    if (module !== undefined) assert.ok(['.js', '.mjs', '.ts'].some((ext) => existsSync(join(dir, module + ext))), `"${line}": module ${module} is in ${chdir}`);
    if (file !== undefined) assert.ok(existsSync(join(dir, file)), `"${line}": ${file} is in ${chdir}`);
  }
});

test.run();
