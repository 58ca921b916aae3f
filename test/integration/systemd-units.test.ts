/**
 * The documented unit files (apps/systemd/) stay valid: Debian's real `systemd-analyze verify`
 * accepts the pair, and tsgi accepts the command line of the service's ExecStart (--dry-run).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MAIN, ROOT, tempDir } from '../helpers/tsgi.js';

const UNITS = join(ROOT, 'apps/systemd');
const TSGI_BIN = '/usr/local/bin/tsgi';

function execStart(): string[] {
  const line = readFileSync(join(UNITS, 'tsgi.service'), 'utf8').match(/^ExecStart=(.*)$/m);
  assert.ok(line, 'tsgi.service has an ExecStart=');
  return line[1]!.trim().split(/\s+/);
}

test('systemd-analyze verify accepts tsgi.service and tsgi.socket', () => {
  const dir = tempDir();
  const [binary] = execStart();
  assert.is(binary, TSGI_BIN);
  // verify insists that ExecStart's binary exists: point it at node running tsgi.
  writeFileSync(join(dir, 'tsgi.service'), readFileSync(join(UNITS, 'tsgi.service'), 'utf8').replace(TSGI_BIN, `${process.execPath} ${MAIN}`));
  writeFileSync(join(dir, 'tsgi.socket'), readFileSync(join(UNITS, 'tsgi.socket'), 'utf8'));
  const result = spawnSync('systemd-analyze', ['verify', join(dir, 'tsgi.socket'), join(dir, 'tsgi.service')], { encoding: 'utf8' });
  assert.is(result.status, 0, `${result.stdout}${result.stderr}`);
  assert.not.match(`${result.stdout}${result.stderr}`, /tsgi\.(service|socket)/, `no complaint about the units: ${result.stderr}`);
});

test("the service's ExecStart is a command line tsgi accepts, on the socket tsgi.socket listens on", () => {
  const args = execStart().slice(1);
  const ini = execFileSync(process.execPath, [MAIN, ...args, '--dry-run'], { encoding: 'utf8' });
  const listen = readFileSync(join(UNITS, 'tsgi.socket'), 'utf8').match(/^ListenStream=(.*)$/m)![1]!;
  assert.match(ini, new RegExp(`^socket = ${listen}$`, 'm'), 'the passed fd matches the configured socket');
  assert.match(ini, /^uid = www-data$/m);
});

test.run();
