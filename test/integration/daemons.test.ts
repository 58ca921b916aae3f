/**
 * Attached daemons against real processes: a shell loop started beside the workers, its output
 * in the log, respawned with the pool's back-off, stopped with the instance (its whole process
 * group), attach-daemon2's stopsignal / reloadsignal / touch, smart daemons governed by their
 * pidfile, and the `daemons` rows of --stats.
 */
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pickPort } from '../helpers/ports.js';
import { groupMembers, spawnTracked } from '../helpers/processes.js';
import { FIXTURE_APPS, readStats, sleep, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';

async function withDaemons(args: string[]): Promise<Server> {
  const port = await pickPort();
  return startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'supervised', '--reload-mercy', '3', ...args], { cwd: FIXTURE_APPS, ready: /all 1 workers ready/ });
}

/** Whether `pid` runs (a zombie does not). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

async function until(check: () => boolean, what: string, server: Server, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}:\n${server.log()}`);
    await sleep(50);
  }
}

const pidOf = async (server: Server, pattern: RegExp) => Number((await server.waitFor(pattern))[1]);

test('an attached daemon runs beside the workers, logs as [daemon N], is respawned when killed, and goes with the instance, children too', async () => {
  const server = await withDaemons(['--attach-daemon', 'sleep 300 & echo "child $!"; while true; do echo "tick $$"; sleep 0.2; done']);
  try {
    const first = await pidOf(server, /spawned daemon 1 \(pid (\d+)\) "sleep 300/);
    const firstChild = await pidOf(server, /\[daemon 1\] child (\d+)/);
    await server.waitFor(new RegExp(`\\[daemon 1\\] tick ${first}\\n`));
    assert.ok(server.log().indexOf('spawned worker 1') < server.log().indexOf('spawned daemon 1'), 'started after the workers');
    assert.match(server.log(), /\[master\] tsgi master \(pid \d+\) starting/, 'a daemon option brings the master, as --spooler does');
    process.kill(first, 'SIGKILL');
    await server.waitFor(new RegExp(`daemon 1 \\(pid ${first}\\) "sleep 300[^\\n]*" died \\(signal SIGKILL\\): respawning`));
    const second = await pidOf(server, new RegExp(`spawned daemon 1 \\(pid (?!${first}\\))(\\d+)\\)`));
    await server.waitFor(new RegExp(`\\[daemon 1\\] tick ${second}\\n`));
    await until(() => !alive(firstChild), `the first daemon's sleep (pid ${firstChild}) is gone with its shell`, server);
    assert.match(server.log(), new RegExp(`daemon 1 \\(pid ${first}\\) left \\d process\\(es\\) in its group[^\\n]*${firstChild}[^\\n]*: killing them`));
    const secondChild = Number(/\[daemon 1\] child (\d+)\n(?![\s\S]*\[daemon 1\] child)/.exec(server.log())![1]);
    assert.is(await server.stop(), 0, server.log());
    assert.not.ok(alive(second), 'the daemon stopped with the instance');
    // Its child got SIGTERM with the group (and SIGKILL once the shell had gone): dying takes the kernel a moment.
    await until(() => !alive(secondChild) && groupMembers(second).length === 0, `its child (pid ${secondChild}) and the rest of its group are gone`, server, 2000);
    assert.match(server.log(), new RegExp(`daemon 1 \\(pid ${second}\\) stopped \\(signal SIGTERM\\)`));
  } finally {
    await server.stop();
  }
});

test('a plain daemon dies with a master killed by SIGKILL (PR_SET_PDEATHSIG, as uWSGI sets it)', async () => {
  const server = await withDaemons(['--attach-daemon', 'exec sleep 300']);
  const daemon = await pidOf(server, /spawned daemon 1 \(pid (\d+)\)/);
  server.child.kill('SIGKILL');
  await server.exited;
  try {
    await until(() => !alive(daemon), `the daemon (pid ${daemon}) is gone with its master`, server);
  } finally {
    await server.tracked.stop(); // the master's workers: killed with the test's record of the group
  }
});

test('a daemon that exits at once is respawned with growing delays, not in a loop', async () => {
  const server = await withDaemons(['--attach-daemon', 'echo short-lived; exit 3']);
  try {
    await sleep(6000);
    const log = server.log();
    const spawns = log.match(/spawned daemon 1 /g)?.length ?? 0;
    // Without the back-off a daemon living a few ms would be spawned hundreds of times in 6 s.
    assert.ok(spawns >= 3 && spawns <= 6, `spawned ${spawns} times in 6 s:\n${log}`);
    assert.match(log, /\[daemon 1\] short-lived/);
    assert.match(log, /daemon 1 died 2 times in a row within 1 s of its spawn: respawning in 1 s \(no fork bomb\)/);
    assert.match(log, /daemon 1 died 3 times in a row within 1 s of its spawn: respawning in 2 s \(no fork bomb\)/);
  } finally {
    await server.stop();
  }
});

test('attach-daemon2: stopsignal stops it, reloadsignal is sent on SIGHUP instead of a restart, a touched file restarts it', async () => {
  const dir = tempDir();
  const touch = join(dir, 'restart.txt');
  writeFileSync(touch, '');
  const loop = (name: string) => `trap "echo ${name} got USR1; exit 0" USR1; trap "echo ${name} got USR2" USR2; while true; do sleep 0.1; done`;
  const server = await withDaemons([
    '--attach-daemon2', `cmd=${loop('one')},stopsignal=SIGUSR1,reloadsignal=12`,
    '--attach-daemon2', `cmd=${loop('two')},stopsignal=10,touch=${touch}`,
  ]);
  try {
    const one = await pidOf(server, /spawned daemon 1 \(pid (\d+)\)/);
    const two = await pidOf(server, /spawned daemon 2 \(pid (\d+)\)/);
    server.child.kill('SIGHUP');
    await server.waitFor(new RegExp(`graceful reload: sending SIGUSR2 to daemon 1 \\(pid ${one}\\)[^\\n]* \\(reloadsignal\\)`));
    await server.waitFor(/\[daemon 1\] one got USR2/);
    await server.waitFor(new RegExp(`graceful reload: restarting daemon 2 \\(pid ${two}\\)`));
    await server.waitFor(/\[daemon 2\] two got USR1/);
    const twoAgain = await pidOf(server, new RegExp(`spawned daemon 2 \\(pid (?!${two}\\))(\\d+)\\)`));
    assert.ok(alive(one), 'daemon 1 kept running through the reload');
    assert.not.match(server.log(), /daemon 1 \(pid \d+\) stopped/);

    const later = new Date(Date.now() + 5000);
    utimesSync(touch, later, later);
    await server.waitFor(new RegExp(`${touch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} touched: restarting daemon 2 \\(pid ${twoAgain}\\)`));
    await pidOf(server, new RegExp(`spawned daemon 2 \\(pid (?!${two}\\)|${twoAgain}\\))(\\d+)\\)`));
    assert.is(await server.stop(), 0, server.log());
    assert.match(server.log(), /\[daemon 1\] one got USR1/);
    assert.match(server.log(), /daemon 1 \(pid \d+\) stopped \(exit code 0\)/, 'the stop signal was SIGUSR1: its trap ran and it exited 0');
  } finally {
    await server.stop();
  }
});

test('a smart daemon forks itself, is tracked by its pidfile, survives reloads, is spawned again when its pid dies and is stopped at shutdown', async () => {
  const pidfile = join(tempDir(), 'sleeper.pid');
  const server = await withDaemons(['--smart-attach-daemon', `${pidfile} sleep 60 & echo $! > ${pidfile}`]);
  try {
    const first = await pidOf(server, /daemon 1 "sleep 60[^\n]*" runs as pid (\d+)/);
    assert.is(Number(readFileSync(pidfile, 'utf8')), first);
    server.child.kill('SIGHUP');
    await server.waitFor(/worker 1 \(pid \d+\) stopped \(exit code 0\): generation 0 retired/);
    await sleep(1500);
    assert.ok(alive(first), 'it survived the reload');
    assert.is(server.log().match(/spawned daemon 1 /g)?.length, 1, 'and was not started again');
    process.kill(first, 'SIGKILL');
    await server.waitFor(new RegExp(`daemon 1 "sleep 60[^\\n]*" \\(pid ${first}\\) is gone: spawning it again`));
    const second = await pidOf(server, new RegExp(`daemon 1 "sleep 60[^\\n]*" runs as pid (?!${first} )(\\d+)`));
    assert.is(await server.stop(), 0, server.log());
    assert.not.ok(alive(second), 'stopped at shutdown by the pid in its pidfile');
    assert.match(server.log(), new RegExp(`stopping daemon 1 "sleep 60[^\\n]*" \\(pid ${second}\\) with SIGTERM`), server.log());
  } finally {
    await server.stop();
  }
});

test('a smart daemon whose pidfile names a live pid adopts it instead of starting again; smart-attach-daemon2 writes the pidfile itself', async () => {
  const dir = tempDir();
  const pidfile = join(dir, 'running.pid');
  const written = join(dir, 'written.pid');
  const running = spawnTracked('already running', 'sleep', ['60']);
  writeFileSync(pidfile, `${running.pid}\n`);
  const server = await withDaemons(['--smart-attach-daemon', `${pidfile} echo should-not-run`, '--smart-attach-daemon2', `${written} echo "in the foreground $$"; exec sleep 60`]);
  try {
    await server.waitFor(new RegExp(`daemon 1 "echo should-not-run": found the live pid ${running.pid} in ${pidfile}, not starting it again`));
    const shell = await pidOf(server, /spawned daemon 2 \(shell pid (\d+)\)/);
    await server.waitFor(new RegExp(`\\[daemon 2\\] in the foreground ${shell}`));
    await server.waitFor(new RegExp(`daemon 2 "echo[^\\n]*" runs as pid ${shell}`));
    assert.is(Number(readFileSync(written, 'utf8')), shell);
    assert.is(await server.stop(), 0, server.log());
    assert.is(await running.exited, 'SIGTERM', 'the adopted daemon was stopped at shutdown by its pid');
    assert.not.ok(alive(shell));
    assert.not.ok(existsSync(written), 'the pidfile tsgi wrote is removed');
    assert.not.match(server.log(), /should-not-run\n/);
  } finally {
    await server.stop();
    await running.stop();
  }
});

test('--stats lists the daemons (cmd, pid, respawns)', async () => {
  const stats = await pickPort();
  const pidfile = join(tempDir(), 's.pid');
  const server = await withDaemons(['--stats', `127.0.0.1:${stats}`, '--attach-daemon', 'exec sleep 60', '--smart-attach-daemon', `${pidfile} sleep 60 & echo $! > ${pidfile}`]);
  try {
    const plain = await pidOf(server, /spawned daemon 1 \(pid (\d+)\)/);
    const smart = await pidOf(server, /daemon 2 "[^\n]*" runs as pid (\d+)/);
    process.kill(plain, 'SIGTERM');
    const respawned = await pidOf(server, new RegExp(`spawned daemon 1 \\(pid (?!${plain}\\))(\\d+)\\)`));
    const document = await readStats(stats);
    assert.equal(document.daemons, [
      { cmd: 'exec sleep 60', pid: respawned, respawns: 1 },
      { cmd: `sleep 60 & echo $! > ${pidfile}`, pid: smart, respawns: 0 },
    ]);
  } finally {
    await server.stop();
  }
});

test.run();
