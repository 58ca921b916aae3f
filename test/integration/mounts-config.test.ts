/**
 * Configuring many apps: a bad --mount value names the option, file and line; a mount whose
 * app cannot load stops the boot naming the mount; --vhost without an app starts in full
 * dynamic mode; and a single-app worker lists its one app in the stats as uWSGI does.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, readStats, runTsgi, sleep, startTsgi, tempDir } from '../helpers/tsgi.js';
import { pickPorts } from '../helpers/ports.js';

const [port, statsPort] = await pickPorts(2);

test('a bad --mount value names the option, and the file and line it came from', async () => {
  const cli = await runTsgi(['--http-socket', `127.0.0.1:${port}`, '--mount', '/x'], { cwd: FIXTURE_APPS });
  assert.is.not(cli.code, 0);
  assert.match(cli.output, 'bad value for --mount (command line): "/x": expected MOUNTPOINT=APP');
  const ini = join(tempDir(), 'apps.ini');
  writeFileSync(ini, `[uwsgi]\nhttp-socket = 127.0.0.1:${port}\nmount = /ok=mount-other.js\nmount = /nothing=\n`);
  const file = await runTsgi(['--ini', ini], { cwd: FIXTURE_APPS });
  assert.is.not(file.code, 0);
  assert.match(file.output, `bad value for --mount (${ini}:4): "/nothing=": no app after "=" for mountpoint "/nothing"`);
});

test('a mount whose app cannot be found stops the boot, naming the mount', async () => {
  const result = await runTsgi(['--http-socket', `127.0.0.1:${port}`, '--mount', '/ok=mount-other.js', '--mount', '/x=nope.js'], { cwd: FIXTURE_APPS });
  assert.is.not(result.code, 0);
  assert.match(result.output, /TSGI_ERR_APP_NOT_FOUND: --mount \/x=nope\.js: cannot find module "nope\.js"/);
});

test('--vhost with no app starts in full dynamic mode; without --vhost or --mount an app is still required', async () => {
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--vhost'], { cwd: FIXTURE_APPS });
  try {
    assert.match(server.log(), /no app loaded: full dynamic mode/);
    assert.is((await httpGet({ port }, '/', { headers: { Host: 'a.test' } })).status, 500);
  } finally {
    await server.stop();
  }
  const refused = await runTsgi(['--http-socket', `127.0.0.1:${port}`, '--manage-script-name'], { cwd: FIXTURE_APPS });
  assert.is.not(refused.code, 0);
  assert.match(refused.output, 'no app: give --module NAME or --wsgi-file PATH');
});

test('a single-app worker lists its one app (mountpoint "") with its requests and exceptions', async () => {
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--stats', `127.0.0.1:${statsPort}`, '--master', '--processes', '1', '--module', 'mount-clash'], { cwd: FIXTURE_APPS });
  try {
    for (let i = 0; i < 4; i++) assert.is((await httpGet({ port }, '/x')).status, 200);
    assert.is((await httpGet({ port }, '/throw')).status, 500);
    // The request is counted once its response is out: give the last one a moment.
    let apps: unknown[] = [];
    for (const end = Date.now() + 3000; Date.now() < end; await sleep(20)) {
      apps = (((await readStats(statsPort)).workers) as Array<{ apps: Array<{ requests: number }> }>)[0]!.apps;
      if ((apps[0] as { requests: number } | undefined)?.requests === 5) break;
    }
    assert.equal(apps, [{ id: 0, modifier1: 0, mountpoint: '', startup_time: 0, requests: 5, exceptions: 1, chdir: '' }]);
  } finally {
    await server.stop();
  }
});

test.run();
