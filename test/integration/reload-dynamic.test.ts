/**
 * Dynamic configuration: touch files reload (graceful and chain) under load without one failed
 * request, a chain reload keeps every slot but one serving, and SIGHUP re-reads the config
 * files (a bigger pool, another app) or, when they are broken, keeps serving and says where.
 */
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hammer } from '../helpers/load.js';
import { pickPort } from '../helpers/ports.js';
import { FIXTURE_APPS, httpGet, sleep, startTsgi, tempDir } from '../helpers/tsgi.js';

const touch = (path: string) => {
  const later = new Date(Date.now() + 2000); // an mtime that surely differs at any resolution
  utimesSync(path, later, later);
};

async function pidsServing(port: number, tries = 80): Promise<Set<string>> {
  const pids = new Set<string>();
  for (let i = 0; i < tries; i++) pids.add((await httpGet({ port, host: '127.0.0.1' }, '/pid')).body);
  return pids;
}

test('--touch-reload under load: a new generation takes over and not one request fails', async () => {
  const port = await pickPort();
  const dir = tempDir();
  const file = join(dir, 'reload.txt');
  writeFileSync(file, '');
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'green', '--master', '--processes', '2', '--async', '20', '--touch-reload', file], { cwd: FIXTURE_APPS, ready: /all 2 workers ready/ });
  try {
    const before = await pidsServing(port, 30);
    const load = hammer(port);
    await sleep(300);
    touch(file);
    await server.waitFor(/reload\.txt touched \(--touch-reload\): graceful reload/);
    await server.waitFor(/retired[\s\S]*retired/, 20_000);
    await sleep(300);
    const { done, failed, errors } = await load.stop();
    assert.is(failed, 0, `${failed} of ${done + failed} failed: ${errors.join('; ')}`);
    assert.ok(done > 20, `only ${done} requests ran`);
    for (const pid of await pidsServing(port, 30)) assert.not.ok(before.has(pid), 'old workers are gone');
  } finally {
    await server.stop();
  }
});

/**
 * Replays the master's log after the chain started: at most one new worker boots at a time, and
 * an old worker stops only after its successor is ready, so at least 3 of 4 always serve.
 */
function chainInvariants(log: string, workers: number): { minServing: number; maxBooting: number; replaced: number } {
  const lines = log.slice(log.indexOf('chain reload:')).split('\n');
  let booting = 0;
  let maxBooting = 0;
  let serving = workers;
  let minServing = workers;
  let replaced = 0;
  const fresh = new Set<string>();
  for (const line of lines) {
    const spawned = /spawned worker \d+ \(pid (\d+)\)/.exec(line);
    const ready = /ready \(pid (\d+)\)/.exec(line);
    if (spawned) {
      fresh.add(spawned[1]!);
      maxBooting = Math.max(maxBooting, ++booting);
    } else if (ready && fresh.has(ready[1]!)) {
      booting--;
      replaced++; // serving stays: the successor serves as its predecessor is asked to stop
    } else if (/stopped .*retired/.test(line) && replaced === 0) serving--; // an old one went before any successor was ready
    minServing = Math.min(minServing, serving);
  }
  return { minServing, maxBooting, replaced };
}

test('--touch-chain-reload of 4 workers under load: one worker at a time, never fewer than 3 serving, no request fails', async () => {
  const port = await pickPort();
  const statsPort = await pickPort();
  const dir = tempDir();
  const file = join(dir, 'chain.txt');
  writeFileSync(file, '');
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'green', '--master', '--processes', '4', '--async', '20', '--touch-chain-reload', file, '--stats', `127.0.0.1:${statsPort}`], { cwd: FIXTURE_APPS, ready: /all 4 workers ready/ });
  try {
    const load = hammer(port);
    await sleep(300);
    touch(file);
    await server.waitFor(/chain reload: replacing the 4 worker\(s\) one at a time/);
    await server.waitFor(/(retired[\s\S]*){4}/, 40_000);
    const { done, failed, errors } = await load.stop();
    const { minServing, maxBooting, replaced } = chainInvariants(server.log(), 4);
    assert.is(failed, 0, `${failed} of ${done + failed} failed: ${errors.join('; ')}`);
    assert.is(replaced, 4, 'every worker was replaced');
    assert.is(maxBooting, 1, 'one new worker boots at a time');
    assert.ok(minServing >= 3, `only ${minServing} workers served at one point`);
    // Each old worker is asked to stop only once its successor reported ready: its "retired" line follows that ready line.
    const log = server.log().slice(server.log().indexOf('chain reload:'));
    for (const [, slot, pid] of log.matchAll(/spawned worker (\d+) \(pid (\d+)\)/g)) {
      const retired = new RegExp(`worker ${slot} \\(pid \\d+\\) stopped \\([^)]*\\): generation 0 retired`).exec(log);
      assert.ok(retired && retired.index > log.indexOf(`ready (pid ${pid})`), `worker ${slot}'s predecessor stopped before its successor was ready`);
    }
  } finally {
    await server.stop();
  }
});

test('a reload under keep-alive clients: a connection idle at the hand-over still gets its next answer (Connection: close), none fails', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'green', '--master', '--processes', '2', '--async', '20', '--disable-logging'], { cwd: FIXTURE_APPS, ready: /all 2 workers ready/ });
  try {
    const load = hammer(port, '/pid', 32, true);
    await sleep(300);
    for (let generation = 1; generation <= 2; generation++) {
      process.kill(server.pid, 'SIGHUP');
      await server.waitFor(new RegExp(`(generation ${generation - 1} retired[\\s\\S]*){2}`), 20_000);
    }
    const { done, failed, errors } = await load.stop();
    assert.is(failed, 0, `${failed} of ${done + failed} failed: ${errors.join('; ')}`);
    assert.ok(done > 200, `only ${done} requests ran`);
  } finally {
    await server.stop();
  }
});

test('SIGHUP re-reads the ini file: processes 2 → 3 and another app module take effect', async () => {
  const port = await pickPort();
  const dir = tempDir();
  for (const name of ['first', 'second']) {
    writeFileSync(join(dir, `${name}.js`), `export function application(env, start_response) {\n  start_response('200 OK', [['Content-Type', 'text/plain']]);\n  return ['${name} ' + process.pid];\n}\n`);
  }
  const ini = join(dir, 'app.ini');
  const config = (processes: number, module: string) => `[uwsgi]\nhttp-socket = 127.0.0.1:${port}\nmaster = true\nprocesses = ${processes}\nmodule = ${module}\n`;
  writeFileSync(ini, config(2, 'first'));
  const server = await startTsgi(['--ini', ini], { cwd: dir, ready: /all 2 workers ready/ });
  try {
    const bodies = async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 90; i++) seen.add((await httpGet({ port, host: '127.0.0.1' }, '/')).body);
      return seen;
    };
    assert.equal([...await bodies()].map((body) => body.split(' ')[0]).sort(), ['first', 'first']);
    writeFileSync(ini, config(3, 'second'));
    process.kill(server.pid, 'SIGHUP');
    await server.waitFor(/config re-read: --module "first" → "second", --processes 2 → 3/);
    await server.waitFor(/(retired[\s\S]*){2}/, 20_000);
    await server.waitFor(/ready \(pid \d+\): app second[\s\S]*ready \(pid \d+\): app second[\s\S]*ready \(pid \d+\): app second/, 20_000);
    await sleep(300);
    const after = await bodies();
    assert.is(after.size, 3, `three workers answer: ${[...after].join(', ')}`);
    for (const body of after) assert.match(body, /^second \d+$/);
  } finally {
    await server.stop();
  }
});

test('SIGHUP with a broken ini keeps the old workers serving and logs the file:line in one line; kept options are named', async () => {
  const port = await pickPort();
  const other = await pickPort();
  const dir = tempDir();
  const ini = join(dir, 'app.ini');
  writeFileSync(ini, `[uwsgi]\nhttp-socket = 127.0.0.1:${port}\nmaster = true\nprocesses = lots\nmodule = green\n`.replace('lots', '2'));
  const server = await startTsgi(['--ini', ini], { cwd: FIXTURE_APPS, ready: /all 2 workers ready/ });
  try {
    const before = await pidsServing(port, 40);
    writeFileSync(ini, `[uwsgi]\nhttp-socket = 127.0.0.1:${port}\nmaster = true\nprocesses = lots\nmodule = green\n`);
    process.kill(server.pid, 'SIGHUP');
    const [line] = await server.waitFor(/config re-read failed.*\n/);
    assert.match(line, /reload cancelled/);
    assert.match(line, /TSGI_ERR_OPT_VALUE: bad value for --processes \(.*app\.ini:4\)/);
    await sleep(500);
    assert.not.match(server.log(), /spawning generation/, 'no reload happened');
    assert.equal(await pidsServing(port, 40), before, 'the same workers serve on');
    // Fixed, but with another socket: the socket is kept (it was bound at boot) and named.
    writeFileSync(ini, `[uwsgi]\nhttp-socket = 127.0.0.1:${other}\nmaster = true\nprocesses = 2\nmodule = green\n`);
    process.kill(server.pid, 'SIGHUP');
    await server.waitFor(/config re-read: --http-socket cannot change without a restart: keeping the running value\n/);
    await server.waitFor(/(retired[\s\S]*){2}/, 20_000);
    assert.is((await httpGet({ port, host: '127.0.0.1' }, '/pid')).status, 200, 'still on the bound socket');
  } finally {
    await server.stop();
  }
});

test.run();
