/**
 * --daemonize and --daemonize2 with real processes: the command returns, the daemon runs in a
 * session of its own (reparented, its own session id in /proc), --pidfile and ps show it, it
 * serves, and its log file gets the lines; --daemonize2 waits for the workers, so a boot
 * failure comes back as the command's exit code.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readLog, waitForLog } from '../helpers/logs.js';
import { pickPort } from '../helpers/ports.js';
import { APPS, httpGet, MAIN, sleep, tempDir } from '../helpers/tsgi.js';

/** Fields of /proc/PID/stat after the command name: state, ppid, pgrp, session. */
function procStat(pid: number): { ppid: number; session: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), session: Number(fields[3]) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopDaemon(pid: number): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 200 && alive(pid); i++) await sleep(50);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

for (const option of ['--daemonize', '--daemonize2'] as const) {
  test(`${option} FILE: the command exits 0, the daemon (pidfile, ps) serves in its own session and logs to FILE`, async () => {
    const dir = tempDir();
    const log = join(dir, 'daemon.log');
    const pidfile = join(dir, 'daemon.pid');
    const port = await pickPort();
    const started = Date.now();
    const command = spawnSync(process.execPath, [MAIN, '--http-socket', `127.0.0.1:${port}`, '--module', 'myapp', '--master', '--processes', '1', option, log, '--pidfile', pidfile], { cwd: APPS, encoding: 'utf8', timeout: 30_000 });
    assert.is(command.status, 0, `${command.stdout}${command.stderr}`);
    await waitForLog(log, /all 1 workers ready/, 15_000);
    const pid = Number(readFileSync(pidfile, 'utf8').trim());
    try {
      assert.match(command.stderr, new RegExp(`daemonized \\(pid ${pid}\\)`));
      if (option === '--daemonize2') assert.match(readLog(log), /all 1 workers ready/, '--daemonize2 returned only once the workers were ready');
      const stat = procStat(pid);
      assert.is(stat.session, pid, 'a session leader: no controlling terminal of the command\'s');
      assert.not.equal(stat.ppid, process.pid, 'not a child of the test');
      const ps = spawnSync('ps', ['-o', 'pid=,args=', '-p', String(pid)], { encoding: 'utf8' });
      assert.match(ps.stdout, new RegExp(`^\\s*${pid} .*main\\.js .*${option} `), `ps shows the daemon: ${ps.stdout}`);
      assert.is((await httpGet({ port }, '/from-daemon')).status, 200);
      await waitForLog(log, /GET \/from-daemon => generated/);
      assert.ok(Date.now() - started < 30_000);
    } finally {
      await stopDaemon(pid);
    }
    assert.match(readLog(log), /goodbye to tsgi \(exit 0\)/);
  });
}

test('--daemonize2: an app that cannot load fails the command (exit 1), the reason in the daemon\'s log', async () => {
  const dir = tempDir();
  const log = join(dir, 'daemon.log');
  const port = await pickPort();
  const command = spawnSync(process.execPath, [MAIN, '--http-socket', `127.0.0.1:${port}`, '--module', 'no_such_module', '--master', '--processes', '1', '--daemonize2', log], { cwd: APPS, encoding: 'utf8', timeout: 30_000 });
  assert.is(command.status, 1, `${command.stdout}${command.stderr}`);
  assert.match(command.stderr, /TSGI_ERR_LOG_DAEMONIZE: the daemon \(pid \d+\) exited \(1\) before it was ready: see /);
  assert.match(readLog(log), /TSGI_ERR_APP_NOT_FOUND/);
});

test.run();
