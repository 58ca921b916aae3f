/**
 * Jailing against real users and a real nginx: after --uid/--gid every process of the
 * instance (master, workers, a spooler, an attached daemon) shows the dropped ids and groups in
 * /proc/PID/status; nginx running its worker as www-data reaches a `--chmod-socket 660
 * --chown-socket www-data` unix socket and gets 502 without them; --umask, a bare
 * --chmod-socket, --env, --vacuum and the root warning. Needs root (the suite runs as root).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startNginx } from '../helpers/peers.js';
import { pickPort } from '../helpers/ports.js';
import { readProcStats } from '../helpers/processes.js';
import { FIXTURE_APPS, httpGet, runTsgi, sleep, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';

/** A temp dir every user may enter and write (sockets, spool files of a dropped instance). */
function openDir(): string {
  const dir = tempDir();
  chmodSync(dir, 0o1777);
  return dir;
}

/** `Uid`, `Gid` (real ids) and `Groups` of /proc/PID/status. */
function ids(pid: number): { uid: number; gid: number; groups: string } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => status.match(new RegExp(`^${name}:\\t(.*)$`, 'm'))![1]!.trim();
  return { uid: Number(field('Uid').split('\t')[0]), gid: Number(field('Gid').split('\t')[0]), groups: field('Groups') };
}

/** Every live descendant of `root`, from /proc. */
function descendants(root: number): number[] {
  const stats = readProcStats();
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const [pid, stat] of stats) {
      if (stat.ppid === parent && stat.state !== 'Z') {
        found.push(pid);
        walk(pid);
      }
    }
  };
  walk(root);
  return found;
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

async function stopped(server: Server): Promise<void> {
  assert.is(await server.stop(), 0, server.log());
}

test('--uid nobody --gid nogroup: the master, both workers, the spooler and a daemon run as nobody, with only its groups', async () => {
  const dir = openDir();
  const spool = join(dir, 'spool');
  mkdirSync(spool, { mode: 0o777 });
  chmodSync(spool, 0o777);
  const port = await pickPort();
  const server = await startTsgi([
    '--master', '--processes', '2', '--http-socket', `127.0.0.1:${port}`, '--module', 'supervised', '--spooler', spool,
    '--attach-daemon', 'exec sleep 60', '--uid', 'nobody', '--gid', 'nogroup', '--reload-mercy', '3',
  ], { cwd: FIXTURE_APPS, ready: /all 2 workers ready/ });
  try {
    await server.waitFor(/spawned daemon 1/);
    await sleep(300); // the daemon's shell execs sleep
    const nobody = { uid: 65534, gid: 65534, groups: '65534' };
    assert.equal(ids(server.pid), nobody, 'the master dropped too, as uWSGI does');
    const children = descendants(server.pid);
    const nodes = children.filter((pid) => commandOf(pid).includes('main.js'));
    assert.is(nodes.length, 3, `2 workers + 1 spooler: ${children.map(commandOf).join(' | ')}`);
    for (const pid of nodes) assert.equal(ids(pid), nobody, `child ${pid} (${commandOf(pid)})`);
    const daemon = children.find((pid) => commandOf(pid) === 'sleep 60');
    assert.ok(daemon, `the daemon runs: ${children.map(commandOf).join(' | ')}`);
    assert.equal(ids(daemon!), nobody, 'the daemon');
    assert.match(server.log(), /jailed: gid 65534, groups 65534, uid 65534 \(nobody\)/);
    assert.not.match(server.log(), /WARNING: running as root/);
    assert.is((await httpGet({ port })).status, 200);
  } finally {
    await stopped(server);
  }
});

test('--uid www-data alone takes its primary group; --no-initgroups leaves no supplementary group at all', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--master', '--http-socket', `127.0.0.1:${port}`, '--module', 'supervised', '--uid', '33', '--no-initgroups'], { cwd: FIXTURE_APPS, ready: /all 1 workers ready/ });
  try {
    const worker = descendants(server.pid)[0]!;
    assert.equal(ids(worker), { uid: 33, gid: 33, groups: '' });
    assert.equal(ids(server.pid), { uid: 33, gid: 33, groups: '' });
  } finally {
    await stopped(server);
  }
});

test('an unknown --uid fails the start with TSGI_ERR_JAIL_UNKNOWN_ID before anything is spawned', async () => {
  const port = await pickPort();
  const { code, output } = await runTsgi(['--master', '--http-socket', `127.0.0.1:${port}`, '--module', 'supervised', '--uid', 'no-such-user-tsgi'], { cwd: FIXTURE_APPS });
  assert.is(code, 1, output);
  assert.match(output, /TSGI_ERR_JAIL_UNKNOWN_ID: --uid no-such-user-tsgi: no such user/);
  assert.not.match(output, /spawned worker/);
});

test('as root with no --uid, --gid or --chroot: one warning line at start', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--master', '--http-socket', `127.0.0.1:${port}`, '--module', 'supervised'], { cwd: FIXTURE_APPS, ready: /all 1 workers ready/ });
  try {
    assert.is(server.log().match(/WARNING: running as root without --uid, --gid or --chroot/g)?.length, 1, server.log());
  } finally {
    await stopped(server);
  }
});

async function nginxAsWwwData(socketPath: string) {
  const port = await pickPort();
  const nginx = await startNginx({
    masterProcess: true,
    user: 'www-data',
    ports: [port],
    http: `    server {
        listen 127.0.0.1:${port};
        location / { include /etc/nginx/uwsgi_params; uwsgi_pass unix:${socketPath}; }
    }`,
  });
  return { nginx, port };
}

test('nginx running as www-data gets 200 through a --chmod-socket 660 --chown-socket www-data socket, and 502 without them', async () => {
  const dir = openDir();
  const open = join(dir, 'open.sock');
  const closed = join(dir, 'closed.sock');
  const served = await startTsgi(['--master', '--socket', open, '--module', 'supervised', '--chmod-socket', '660', '--chown-socket', 'www-data', '--uid', 'nobody'], { cwd: FIXTURE_APPS, ready: /all 1 workers ready/ });
  const refused = await startTsgi(['--master', '--socket', closed, '--module', 'supervised', '--uid', 'nobody'], { cwd: FIXTURE_APPS, ready: /all 1 workers ready/ });
  const first = await nginxAsWwwData(open);
  const second = await nginxAsWwwData(closed);
  try {
    const mode = statSync(open);
    assert.is(mode.mode & 0o777, 0o660);
    assert.is(mode.uid, 33);
    assert.is(mode.gid, 33, "www-data's primary group");
    const nginxWorker = descendants(first.nginx.child.pid!).map(ids);
    assert.ok(nginxWorker.some((worker) => worker.uid === 33), `nginx's worker runs as www-data: ${JSON.stringify(nginxWorker)}`);
    const ok = await httpGet({ port: first.port }, '/');
    assert.is(ok.status, 200, first.nginx.errorLog());
    assert.is(ok.body, 'worker 1');
    const denied = await httpGet({ port: second.port }, '/');
    assert.is(denied.status, 502);
    assert.match(second.nginx.errorLog(), /connect\(\) to unix:.*closed\.sock failed \(13: Permission denied\)/);
  } finally {
    await first.nginx.stop();
    await second.nginx.stop();
    await stopped(served);
    await stopped(refused);
  }
});

test('--umask applies to the socket file; a bare --chmod-socket is 666; --env reaches every worker', async () => {
  const dir = openDir();
  const masked = join(dir, 'masked.sock');
  const bare = join(dir, 'bare.sock');
  const server = await startTsgi(['--master', '--socket', masked, '--module', 'supervised', '--umask', '077', '--env', 'TSGI_JAIL_TEST=a=b'], { cwd: FIXTURE_APPS, ready: /all 1 workers ready/ });
  const other = await startTsgi(['--master', '--socket', bare, '--chmod-socket', '--module', 'supervised'], { cwd: FIXTURE_APPS, ready: /all 1 workers ready/ });
  try {
    assert.is(statSync(masked).mode & 0o777, 0o700, 'created under umask 077');
    assert.is(statSync(bare).mode & 0o777, 0o666);
    const worker = descendants(server.pid)[0]!;
    assert.ok(readFileSync(`/proc/${worker}/environ`, 'latin1').split('\0').includes('TSGI_JAIL_TEST=a=b'));
  } finally {
    await stopped(server);
    await stopped(other);
  }
});

test('--vacuum removes the unix socket and the pidfile at exit; without it both stay, and the next start replaces the stale socket', async () => {
  const dir = openDir();
  const socket = join(dir, 'app.sock');
  const pidfile = join(dir, 'app.pid');
  const args = ['--master', '--socket', socket, '--pidfile', pidfile, '--module', 'supervised'];
  const kept = await startTsgi(args, { cwd: FIXTURE_APPS, ready: /all 1 workers ready/ });
  await stopped(kept);
  assert.ok(statSync(socket).isSocket(), 'without --vacuum the socket file stays');
  assert.ok(existsSync(pidfile), 'without --vacuum the pidfile stays');
  const vacuumed = await startTsgi([...args, '--vacuum'], { cwd: FIXTURE_APPS, ready: /all 1 workers ready/ });
  assert.is(readFileSync(pidfile, 'utf8').trim(), String(vacuumed.pid));
  await stopped(vacuumed);
  assert.not.ok(existsSync(socket), '--vacuum removed the socket');
  assert.not.ok(existsSync(pidfile), '--vacuum removed the pidfile');
  assert.equal(readdirSync(dir), []);
});

test.run();
