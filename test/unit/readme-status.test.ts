/**
 * The README's status table of the talk's features stays true at every commit: an option it
 * calls built is in the option table, one it calls not yet is not (an option tsgi does not
 * have is not built), and a `uwsgi.` API member it calls built is exported by the module.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import uwsgi from '../../api/mod.js';
import { findOption } from '../../runtime/options.js';
import { ROOT } from '../helpers/tsgi.js';

interface Row {
  feature: string;
  names: string[];
  built: boolean;
}

/** The rows of the table under "## Status: the talk's features". */
function statusRows(): Row[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf("\n## Status: the talk's features\n");
  assert.ok(start >= 0, "README has a section \"## Status: the talk's features\"");
  const section = readme.slice(start + 1, readme.indexOf('\n## ', start + 1));
  const table = section.split('\n').filter((line) => line.startsWith('|')).slice(2);
  return table.map((line) => {
    const cells = line.split('|').slice(1, -1).map((cell) => cell.trim());
    assert.is(cells.length, 3, `feature | tsgi option | status: ${line}`);
    const [feature, options, status] = cells as [string, string, string];
    assert.ok(status === 'built' || status === 'not yet', `status is "built" or "not yet": ${line}`);
    const names = [...options.matchAll(/`((?:--|uwsgi\.)[a-z0-9_-]+)`/g)].map((match) => match[1]!);
    assert.ok(names.length > 0, `each row names an option or API member in backticks: ${line}`);
    return { feature, names, built: status === 'built' };
  });
}

test('every option the status table calls built is in the option table, and every "not yet" one is not', () => {
  const rows = statusRows();
  assert.ok(rows.length >= 20, `the table covers the talk (${rows.length} rows)`);
  const api = uwsgi as unknown as Record<string, unknown>;
  for (const { feature, names, built } of rows) {
    for (const name of names) {
      const exists = name.startsWith('--') ? findOption(name.slice(2)) !== undefined : typeof api[name.slice('uwsgi.'.length)] === 'function';
      assert.is(exists, built, `${feature}: ${name} is ${built ? 'built' : 'not yet'} per the README, but tsgi ${exists ? 'has' : 'lacks'} it`);
    }
  }
  for (const talk of ['--threads', '--emperor', '--http', '--fastrouter', '--subscribe-to', '--cluster', '--harakiri', '--attach-daemon', '--logto', '--uid']) {
    assert.ok(rows.some((row) => row.names.includes(talk)), `the table says where ${talk} stands`);
  }
});

test.run();
