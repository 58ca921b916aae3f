/**
 * The spooler (issue 5): the seed's example, every handler answer, `at`, `priority`, `body`,
 * signals to the spooler, and nothing lost — a SIGKILLed spooler, a whole instance killed and
 * restarted, two spooler processes on one directory, a full or read-only disk.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { APPS, FIXTURE_APPS, httpGet, readStats, sleep, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';
import { uwsgiRequest } from '../helpers/uwsgi-client.js';
import { pickPort } from '../helpers/ports.js';

const APP = join(FIXTURE_APPS, 'spooler.js');

interface Instance {
  server: Server;
  port: number;
  dir: string;
  markers: string;
}

async function start(extra: string[] = [], dir = join(tempDir(), 'queue'), markers = tempDir()): Promise<Instance> {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--wsgi-file', APP, '--spooler', dir, '--spooler-frequency', '0.2', ...extra], {
    env: { TSGI_TEST_MARKERS: markers }, ready: /spooler ready[\s\S]*all 1 workers ready|all 1 workers ready[\s\S]*spooler ready/,
  });
  return { server, port, dir, markers };
}

async function spool(instance: Instance, tasks: object[]): Promise<string[]> {
  const response = await httpGet({ port: instance.port }, `/spool?tasks=${encodeURIComponent(JSON.stringify(tasks))}`);
  assert.is(response.status, 200, response.body);
  return JSON.parse(response.body) as string[];
}

/** Lines of runs.log as [id, event, pid]. */
function runs(instance: Instance): string[][] {
  const file = join(instance.markers, 'runs.log');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').map((line) => line.split(' ')) : [];
}
const eventsOf = (instance: Instance, id: string) => runs(instance).filter(([task]) => task === id).map(([, event]) => event);
const taskFiles = (dir: string) => (existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).filter((name) => name.includes('uwsgi_spoolfile_on_')) : []);

async function until(check: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (await check()) return true;
  return check();
}

let main: Instance;
test.before(async () => {
  main = await start(['--spooler-async', '4']);
});
test.after(async () => {
  await main.server.stop();
});

test("the seed's slide runs as written: two tasks per request, run one after the other by the spooler", async () => {
  const cwd = tempDir();
  const socket = join(cwd, 'uwsgi.sock');
  // `tsgi --spooler myqueue --module myapp --socket /tmp/uwsgi.sock`: no --master, the spooler brings one.
  const server = await startTsgi(['--spooler', 'myqueue', '--chdir', APPS, '--module', 'spooler', '--socket', socket, '--reload-mercy', '0.5'], { cwd, ready: /spooler ready/ });
  try {
    const response = await uwsgiRequest({ path: socket }, { REQUEST_METHOD: 'GET', REQUEST_URI: '/', PATH_INFO: '/' });
    assert.is(response.status, 200);
    assert.is(response.body.toString(), 'tasks enqueued');
    // The first task prints its vars and works for 40 s; the second waits for it, as in uWSGI.
    // console.log of an object spans lines; the log master tags each with the spooler that printed it
    await server.waitFor(/\{\s+(\[spooler 1 pid \d+\]\s+)?func: 'topogigio',\s+(\[spooler 1 pid \d+\]\s+)?spooler_task_name: 'uwsgi_spoolfile_on_/);
    assert.is(taskFiles(join(cwd, 'myqueue')).length, 2, 'queue dir relative to where tsgi started, not --chdir');
  } finally {
    assert.is(await server.stop(), 0);
  }
  // Shut down 0.5 s into their 40 s of work: both tasks stay queued for the next start.
  assert.match(server.log(), /interrupted by the shutdown: it stays queued/);
  assert.is(taskFiles(join(cwd, 'myqueue')).length, 2);
});

test('spool() returns the task file, in uWSGI format, and SPOOL_OK removes it after one run', async () => {
  const [path] = await spool(main, [{ id: 'ok1', mode: 'ok', extra: 'ü' }]);
  assert.ok(path!.startsWith(`${main.dir}/uwsgi_spoolfile_on_`), path);
  assert.ok(await until(() => eventsOf(main, 'ok1').length === 1 && !existsSync(path!)), main.server.log());
  await sleep(500); // two more scans: not run again
  assert.equal(eventsOf(main, 'ok1'), ['run-ok']);
});

test('generator and async handlers run as green threads; their return value decides', async () => {
  await spool(main, [{ id: 'gen1', mode: 'slow', seconds: '0.2' }, { id: 'async1', mode: 'async' }]);
  assert.ok(await until(() => eventsOf(main, 'gen1').includes('end') && eventsOf(main, 'async1').includes('async-true')), main.server.log());
  assert.ok(await until(() => taskFiles(main.dir).length === 0), 'both removed');
});

test('SPOOL_RETRY and a throwing handler keep the task; it runs again at the next scan', async () => {
  await spool(main, [{ id: 'retry1', mode: 'retry-once' }, { id: 'throw1', mode: 'throw-once' }]);
  assert.ok(await until(() => eventsOf(main, 'retry1').length === 2 && eventsOf(main, 'throw1').length === 2), main.server.log());
  assert.ok(await until(() => taskFiles(main.dir).length === 0));
  assert.match(main.server.log(), /spooler task \S+ failed: it stays queued for a retry: Error: task throw1 fails the first time/);
});

test('SPOOL_IGNORE and a non-constant answer leave the task; spooler_jobs() lists it', async () => {
  const [ignored, undef] = await spool(main, [{ id: 'ign1', mode: 'ignore' }, { id: 'undef1', mode: 'undefined' }]);
  assert.ok(await until(() => eventsOf(main, 'ign1').length >= 2 && eventsOf(main, 'undef1').length >= 2), 'offered again at each scan');
  const jobs = JSON.parse((await httpGet({ port: main.port }, '/jobs')).body) as string[];
  assert.ok(jobs.includes(ignored!) && jobs.includes(undef!), JSON.stringify(jobs));
  assert.match(main.server.log(), /ignored by the handler \(SPOOL_IGNORE\)/);
  assert.match(main.server.log(), /the handler returned undefined, not uwsgi.SPOOL_OK: kept for a retry/);
  assert.is(main.server.log().match(/the handler returned undefined/g)!.length, 1, 'reported once, not at every scan');
});

test('`at` holds a task until that unix time', async () => {
  const at = Math.ceil(Date.now() / 1000) + 2;
  await spool(main, [{ id: 'at1', mode: 'ok', at }]);
  await sleep(900);
  assert.equal(eventsOf(main, 'at1'), [], 'not before `at`');
  assert.ok(await until(() => eventsOf(main, 'at1').length === 1, 4000), main.server.log());
  assert.ok(Date.now() / 1000 >= at);
});

test('priority: numbered subdirectories run first, lowest first (uWSGI\'s --spooler-ordered is accepted); bad priorities are refused', async () => {
  const instance = await start(['--spooler-async', '1', '--spooler-ordered']);
  try {
    const paths = await spool(instance, [{ id: 'none', mode: 'ok' }, { id: 'p5', mode: 'ok', priority: 5 }, { id: 'p10', mode: 'ok', priority: 10 }, { id: 'p1', mode: 'ok', priority: '1' }]);
    assert.ok(paths[1]!.startsWith(`${instance.dir}/5/uwsgi_spoolfile_on_`), paths[1]);
    assert.ok(await until(() => runs(instance).length === 4), instance.server.log());
    assert.equal(runs(instance).map(([id]) => id), ['p1', 'p5', 'p10', 'none']);
    const bad = await httpGet({ port: instance.port }, `/spool?tasks=${encodeURIComponent(JSON.stringify([{ priority: 'high' }]))}`);
    assert.is(bad.status, 500);
    assert.match(bad.body, /^TSGI_ERR_SPOOL_ARGS: .*priority must be a non-negative integer/);
  } finally {
    await instance.server.stop();
  }
});

test('--stats lists each spooler process: directory, pid, tasks run, respawns, tasks running', async () => {
  const statsPort = await pickPort();
  const instance = await start(['--stats', `127.0.0.1:${statsPort}`]);
  const spoolers = async () => (await readStats(statsPort)).spoolers as Array<{ dir: string; pid: number; tasks: number; respawns: number; running: number }>;
  try {
    await spool(instance, [{ id: 'st1', mode: 'ok' }, { id: 'st2', mode: 'retry-once' }, { id: 'st3', mode: 'ok' }]);
    assert.ok(await until(() => taskFiles(instance.dir).length === 0), instance.server.log());
    await sleep(100);
    const [first] = await spoolers();
    assert.ok(first!.pid > 0);
    // Every answer counts, a retry too: st2 ran twice.
    assert.equal({ ...first, pid: 0 }, { dir: instance.dir, pid: 0, tasks: 4, respawns: 0, running: 0, harakiri_count: 0 });
    process.kill(first!.pid, 'SIGKILL');
    assert.ok(await until(async () => (await spoolers())[0]!.respawns === 1), instance.server.log());
    const [respawned] = await spoolers();
    assert.is.not(respawned!.pid, first!.pid);
    assert.is(respawned!.tasks, 4, 'the slot keeps what its earlier process ran');
  } finally {
    await instance.server.stop();
  }
});

test('body: a large raw payload after the pairs reaches the handler intact', async () => {
  const response = await httpGet({ port: main.port }, '/body?id=body1&size=300000');
  assert.is(response.status, 200);
  assert.ok(await until(() => eventsOf(main, 'body1').includes('body-300000-1-171')), JSON.stringify(eventsOf(main, 'body1')));
});

test("a signal with target 'spooler' runs its handler in a spooler process", async () => {
  assert.equal(JSON.parse((await httpGet({ port: main.port }, '/who')).body), { spooler: false, worker: 1 });
  await httpGet({ port: main.port }, '/signal');
  assert.ok(await until(() => eventsOf(main, 'signal').includes('spooler-true-0')), main.server.log());
});

test('spool() without a spooler is a clear error', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--wsgi-file', APP], { env: { TSGI_TEST_MARKERS: tempDir() }, ready: /ready/ });
  try {
    const response = await httpGet({ port }, `/spool?tasks=${encodeURIComponent('[{"a":"b"}]')}`);
    assert.is(response.status, 500);
    assert.match(response.body, /^TSGI_ERR_SPOOLER_NONE: .*start tsgi with --spooler DIR/);
  } finally {
    await server.stop();
  }
});

test('a spooler SIGKILLed mid-task is respawned and the task runs again (at-least-once)', async () => {
  await spool(main, [{ id: 'kill1', mode: 'slow-once' }]);
  assert.ok(await until(() => eventsOf(main, 'kill1').length === 1));
  const pid = Number(runs(main).find(([id]) => id === 'kill1')![2]);
  process.kill(pid, 'SIGKILL');
  await main.server.waitFor(new RegExp(`OOOPS the spooler 1 \\(pid ${pid}\\) is no more \\(signal SIGKILL\\)`));
  assert.ok(await until(() => eventsOf(main, 'kill1').length === 2 && taskFiles(main.dir).every((name) => !name.includes('kill1')), 8000), main.server.log());
  const second = runs(main).filter(([id]) => id === 'kill1')[1]!;
  assert.is.not(Number(second[2]), pid, 'run by the new spooler');
  assert.ok(await until(() => taskFiles(main.dir).length === 2), 'only the ignored and undefined tasks stay'); // from the test above
});

test('a whole instance killed mid-task: after a restart the task runs', async () => {
  const first = await start(['--reload-mercy', '0.5']);
  try {
    await spool(first, [{ id: 'restart1', mode: 'slow-once' }]);
    assert.ok(await until(() => eventsOf(first, 'restart1').length === 1));
  } finally {
    // The master, the worker and the spooler all die at once: nothing is told to stop. The
    // master is frozen first, so it cannot respawn a child between the two kills.
    process.kill(first.server.pid, 'SIGSTOP');
    spawnSync('pkill', ['-KILL', '-P', String(first.server.pid)]);
    process.kill(first.server.pid, 'SIGKILL');
    await first.server.exited;
  }
  assert.is(taskFiles(first.dir).length, 1, 'the task file survived');
  const second = await start([], first.dir, first.markers);
  try {
    assert.ok(await until(() => eventsOf(second, 'restart1').length === 2 && taskFiles(first.dir).length === 0, 8000), second.server.log());
  } finally {
    await second.server.stop();
  }
});

test('two spooler processes on one directory run each of 400 tasks exactly once', async () => {
  const instance = await start(['--spooler-processes', '2', '--spooler-async', '4']);
  try {
    const ids = Array.from({ length: 400 }, (_, i) => `x${i}`);
    for (let i = 0; i < ids.length; i += 100) await spool(instance, ids.slice(i, i + 100).map((id) => ({ id, mode: 'exclusive' })));
    assert.ok(await until(() => taskFiles(instance.dir).length === 0, 30_000), `${taskFiles(instance.dir).length} left`);
    const lines = runs(instance);
    assert.equal(lines.filter(([, event]) => event === 'DOUBLE'), [], 'no task ran in two places at once');
    const perTask = new Map<string, number>();
    for (const [id] of lines) perTask.set(id!, (perTask.get(id!) ?? 0) + 1);
    assert.is(perTask.size, 400);
    assert.ok([...perTask.values()].every((n) => n === 1), 'each ran exactly once');
    assert.is(new Set(lines.map(([, , pid]) => pid)).size, 2, 'both spoolers took tasks');
  } finally {
    await instance.server.stop();
  }
});

test('--spooler-max-tasks recycles the spooler process and loses nothing', async () => {
  const instance = await start(['--spooler-max-tasks', '3']);
  try {
    await spool(instance, Array.from({ length: 7 }, (_, i) => ({ id: `m${i}`, mode: 'ok' })));
    assert.ok(await until(() => runs(instance).length === 7 && taskFiles(instance.dir).length === 0, 10_000), instance.server.log());
    assert.ok(new Set(runs(instance).map(([, , pid]) => pid)).size >= 3, 'three spooler processes took turns');
    assert.match(instance.server.log(), /ran its 3 tasks \(--spooler-max-tasks\): starting a fresh one/);
  } finally {
    await instance.server.stop();
  }
});

test('--spooler-harakiri kills a spooler stuck in a task, even one that never yields, as harakiri does a worker (log, stack, count); the task runs again', async () => {
  const statsPort = await pickPort();
  const instance = await start(['--spooler-harakiri', '1', '--harakiri-verbose', '--stats', `127.0.0.1:${statsPort}`]);
  try {
    await spool(instance, [{ id: 'hang1', mode: 'slow-once' }]);
    await instance.server.waitFor(/HARAKIRI ON SPOOLER 1 \(pid \d+\): a task has run for more than 1 s \(--spooler-harakiri\); it stays queued and runs again: taking its JS stack, then SIGKILL/, 6000);
    assert.ok(await until(() => eventsOf(instance, 'hang1').length === 2 && taskFiles(instance.dir).length === 0, 8000), instance.server.log());
    await spool(instance, [{ id: 'spin1', mode: 'spin-once' }]);
    assert.ok(await until(() => eventsOf(instance, 'spin1').length === 2 && taskFiles(instance.dir).length === 0, 10_000), instance.server.log());
    const log = instance.server.log();
    assert.is(log.match(/OOOPS the spooler 1 \(pid \d+\) is no more \(signal SIGKILL\)/g)?.length, 2);
    assert.match(log, /HARAKIRI ON SPOOLER 1 \(pid \d+\) was running: spin-once \(file:\/\/\/\S+spooler\.js:\d+:\d+\)/);
    const stats = await readStats(statsPort);
    assert.is((stats.spoolers as Array<{ harakiri_count: number }>)[0]!.harakiri_count, 2);
  } finally {
    await instance.server.stop();
  }
});

test('graceful reload and shutdown let the running task finish, and run it only once', async () => {
  const instance = await start();
  try {
    await spool(instance, [{ id: 'reload1', mode: 'slow', seconds: '1' }]);
    assert.ok(await until(() => eventsOf(instance, 'reload1').length === 1));
    process.kill(instance.server.pid, 'SIGHUP');
    await instance.server.waitFor(/spooler 1 \(pid \d+\) stopped \(exit code 0\)/);
    assert.equal(eventsOf(instance, 'reload1'), ['run-slow', 'end'], 'the old spooler finished it; the new one did not rerun it');
    await spool(instance, [{ id: 'shutdown1', mode: 'slow', seconds: '1' }]);
    assert.ok(await until(() => eventsOf(instance, 'shutdown1').length === 1));
  } finally {
    assert.is(await instance.server.stop(), 0);
  }
  assert.equal(eventsOf(instance, 'shutdown1'), ['run-slow', 'end'], 'shutdown waited for the task');
  assert.is(taskFiles(instance.dir).length, 0);
});

test('a full disk or a read-only spooler directory makes spool() fail loudly, leaving nothing behind', async () => {
  const mount = tempDir();
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mount]);
  const instance = await start([], mount).catch((error: unknown) => {
    execFileSync('umount', [mount]);
    throw error;
  });
  try {
    const full = await httpGet({ port: instance.port }, '/body?id=big&size=200000');
    assert.is(full.status, 500);
    assert.match(full.body, /^TSGI_ERR_SPOOL_WRITE: uwsgi.spool\(\): cannot write the task into .*: ENOSPC — the task was NOT queued/);
    assert.equal(readdirSync(mount), [], 'no temporary file left');
    execFileSync('mount', ['-o', 'remount,ro', mount]);
    const readOnly = await httpGet({ port: instance.port }, `/spool?tasks=${encodeURIComponent('[{"id":"ro"}]')}`);
    assert.is(readOnly.status, 500);
    assert.match(readOnly.body, /^TSGI_ERR_SPOOL_WRITE: .*EROFS/);
  } finally {
    await instance.server.stop();
    execFileSync('umount', [mount]);
  }
});

test.run();
