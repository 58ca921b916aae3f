/**
 * --chroot and --unshare with real processes. A chroot holds what the master execs after it
 * (node and its libraries, tsgi's dist/ and addon, at the paths they have outside: hard links,
 * so building the jail copies nothing) and the app; the app then sees only the jail. --unshare
 * moves the instance into new namespaces after binding: the workers serve on the sockets bound
 * before, from a network namespace of their own. Needs root (the suite runs as root).
 */
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pickPort } from '../helpers/ports.js';
import { readProcStats } from '../helpers/processes.js';
import { FIXTURE_APPS, httpGet, ROOT, runTsgi, startTsgi, tempDir } from '../helpers/tsgi.js';

/** Hard-links `path` (resolved) into `jail` at the same path. */
function linkInto(jail: string, path: string): void {
  mkdirSync(join(jail, dirname(path)), { recursive: true });
  linkSync(realpathSync(path), join(jail, path));
}

/** A chroot with node, its shared libraries, tsgi's dist/ and addon, and an app under /srv. */
function buildJail(): string {
  const jail = join(tempDir(), 'jail');
  const addon = join(ROOT, 'build/Release/tsgi.node');
  // node's libraries and the addon's (libzmq, when it was built with it)
  const libraries = [process.execPath, addon].flatMap((binary) => execFileSync('ldd', [binary], { encoding: 'utf8' }).match(/\/\S+/g) ?? []);
  for (const path of new Set([process.execPath, ...libraries])) linkInto(jail, path);
  linkInto(jail, join(ROOT, 'package.json'));
  linkInto(jail, addon);
  mkdirSync(join(jail, ROOT), { recursive: true });
  execFileSync('cp', ['-al', join(ROOT, 'dist'), join(jail, ROOT, 'dist')]);
  mkdirSync(join(jail, 'srv'));
  writeFileSync(join(jail, 'srv/marker'), 'inside the jail');
  writeFileSync(join(jail, 'srv/app.mjs'), `import { existsSync, readFileSync } from 'node:fs';
export function application(env, start_response) {
  start_response('200 OK', [['Content-Type', 'application/json']]);
  return JSON.stringify({ marker: readFileSync('/srv/marker', 'utf8'), passwd: existsSync('/etc/passwd'), uid: process.getuid() });
}
`);
  return jail;
}

test('--chroot: the app loads from inside the jail and sees nothing outside it; workers respawn in it as --uid', async () => {
  const jail = buildJail();
  const port = await pickPort();
  const env = { NODE_EXTRA_CA_CERTS: '' }; // a path outside the jail only makes node warn
  const server = await startTsgi(['--master', '--http-socket', `127.0.0.1:${port}`, '--wsgi-file', '/srv/app.mjs', '--chroot', jail, '--uid', 'nobody'], { cwd: FIXTURE_APPS, env, ready: /all 1 workers ready/ });
  try {
    assert.match(server.log(), new RegExp(`jailed: chroot ${jail}, gid 65534, groups 65534, uid 65534 \\(nobody\\)`));
    const first = await httpGet({ port });
    assert.is(first.status, 200, server.log());
    assert.equal(JSON.parse(first.body), { marker: 'inside the jail', passwd: false, uid: 65534 });
    const worker = [...readProcStats()].find(([, stat]) => stat.ppid === server.pid)![0];
    assert.is(readlinkSync(`/proc/${worker}/root`), jail, "the worker's root is the jail");
    assert.is(readlinkSync(`/proc/${server.pid}/root`), jail, "and so is the master's, as in uWSGI");
    process.kill(worker, 'SIGKILL'); // the master execs node again, from inside the jail
    await server.waitFor(new RegExp(`worker 1 \\(pid ${worker}\\) died \\(signal SIGKILL\\), respawning`));
    await server.waitFor(new RegExp(`\\[worker 1\\] ready \\(pid (?!${worker}\\))\\d+\\)`));
    assert.is((await httpGet({ port })).status, 200);
  } finally {
    assert.is(await server.stop(), 0, server.log());
  }
});

test('--unshare net,uts,ipc,mount: the workers live in new namespaces and still serve on the socket bound before', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--master', '--http-socket', `127.0.0.1:${port}`, '--module', 'supervised', '--unshare', 'net,uts,ipc,mount'], { cwd: FIXTURE_APPS, ready: /all 1 workers ready/ });
  try {
    assert.match(server.log(), /jailed: namespaces net,uts,ipc,mount/);
    const worker = [...readProcStats()].find(([, stat]) => stat.ppid === server.pid)![0];
    for (const ns of ['net', 'uts', 'ipc', 'mnt']) {
      assert.is.not(readlinkSync(`/proc/${worker}/ns/${ns}`), readlinkSync(`/proc/self/ns/${ns}`), `a new ${ns} namespace`);
    }
    const response = await httpGet({ port });
    assert.is(response.status, 200);
    assert.is(response.body, 'worker 1');
  } finally {
    assert.is(await server.stop(), 0, server.log());
  }
});

test('a --chroot that cannot be entered fails the start with TSGI_ERR_JAIL_FAILED, before any worker is spawned', async () => {
  const missing = join(tempDir(), 'no-such-jail');
  const { code, output } = await runTsgi(['--master', '--http-socket', ':0', '--module', 'supervised', '--chroot', missing], { cwd: FIXTURE_APPS });
  assert.is(code, 1, output);
  assert.match(output, new RegExp(`TSGI_ERR_JAIL_FAILED: --chroot ${missing}: chroot ${missing}: ENOENT`));
  assert.not.match(output, /spawned worker/);
});

test('--unshare pid is refused, saying why', async () => {
  const { code, output } = await runTsgi(['--http-socket', ':0', '--module', 'supervised', '--unshare', 'net,pid'], { cwd: FIXTURE_APPS });
  assert.is(code, 1);
  assert.match(output, /bad value for --unshare \(command line\): "net,pid": pid is refused: the first worker would be pid 1/);
});

test.run();
