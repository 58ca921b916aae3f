/**
 * The Emperor's pipe protocol against real uWSGI 2.0 (Debian's uwsgi-core + python3 plugin),
 * both ways: the tsgi Emperor runs a uWSGI vassal (--emperor-wrapper /usr/bin/uwsgi), and a real
 * `uwsgi --emperor DIR` runs a tsgi vassal (its --emperor-wrapper is a script that execs tsgi).
 * In each, the vassal says spawned/loyal on the pipe, a touched file reloads it, a removed file
 * stops it.
 */
import { chmodSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { alive, until, vassalOptions, writeVassal } from '../helpers/emperor.js';
import { spawnPeer, uwsgiBinary } from '../helpers/peers.js';
import { pickPort } from '../helpers/ports.js';
import { httpGet, MAIN, startTsgi, tempDir } from '../helpers/tsgi.js';

const get = (port: number) => httpGet({ port, host: '127.0.0.1' }).catch(() => ({ status: 0, body: '' }));
const answers = async (port: number) => (await get(port)).status === 200;
const touch = (path: string) => {
  const future = new Date(Date.now() + 5000);
  utimesSync(path, future, future);
};

test('the tsgi Emperor runs a real uWSGI vassal through the pipe protocol: spawned, loyal, reloaded, stopped', async () => {
  const dir = tempDir();
  const port = await pickPort();
  writeFileSync(join(dir, 'app.py'), 'import os\ndef application(env, start_response):\n    start_response("200 OK", [("Content-Type", "text/plain")])\n    return [("uwsgi %d" % os.getpid()).encode()]\n');
  const vassal = join(dir, 'py.ini');
  writeFileSync(vassal, `[uwsgi]\nplugins = python3\nhttp-socket = 127.0.0.1:${port}\nchdir = %d\nwsgi-file = app.py\nmaster = true\nprocesses = 1\n`);
  const emperor = await startTsgi(['--emperor', dir, '--emperor-wrapper', uwsgiBinary(), '--emperor-freq', '1'], { cwd: dir, ready: /starting the tsgi Emperor/ });
  try {
    const pid = Number((await emperor.waitFor(/spawned vassal py\.ini \(pid (\d+)\)/))[1]);
    await emperor.waitFor(/vassal py\.ini \(pid \d+\) has been spawned: ready/, 20_000);
    await until(() => answers(port), 'the uWSGI vassal answers', emperor.log, 20_000);
    await emperor.waitFor(/vassal py\.ini \(pid \d+\) is now loyal/, 10_000);
    const before = (await get(port)).body;
    touch(vassal);
    await emperor.waitFor(/vassal py\.ini \(pid \d+\): its file changed, graceful reload/, 5000);
    // uWSGI reloads by re-exec and announces "spawned" (byte 1) on its first start only.
    await emperor.waitFor(/gracefully \(RE\)spawned uWSGI master process/, 30_000);
    await until(async () => (await get(port)).body.startsWith('uwsgi ') && (await get(port)).body !== before, 'a new uWSGI worker answers after the reload', emperor.log, 20_000);
    assert.ok(alive(pid), 'uWSGI reloads in place (its master keeps its pid)');
    rmSync(vassal);
    await emperor.waitFor(/vassal py\.ini \(pid \d+\): its file was removed, stop/, 5000);
    await emperor.waitFor(/vassal py\.ini \(pid \d+\) stopped/, 20_000);
    await until(() => !alive(pid), 'the uWSGI vassal is gone', emperor.log);
    assert.is(await emperor.stop(), 0, emperor.log());
  } finally {
    await emperor.tracked.stop(1000);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a real uWSGI Emperor runs a tsgi vassal: spawned, ready, loyal, reloaded, stopped; SIGKILL of uWSGI's Emperor leaves nothing running", async () => {
  const dir = tempDir();
  const vassals = join(dir, 'vassals');
  const wrapper = join(dir, 'tsgi-vassal');
  writeFileSync(wrapper, `#!/bin/sh\nexec ${process.execPath} ${MAIN} "$@"\n`);
  chmodSync(wrapper, 0o755);
  mkdirSync(vassals);
  const port = await pickPort();
  const vassal = join(vassals, 'node.ini');
  writeVassal(vassal, 'ini', vassalOptions(port));
  const uwsgi = spawnPeer('uwsgi', uwsgiBinary(), ['--emperor', vassals, '--emperor-wrapper', wrapper, '--emperor-freq', '1']);
  const log = () => uwsgi.output();
  const seen = (re: RegExp, what: string, ms = 20_000) => until(() => re.test(log()), what, log, ms);
  try {
    await seen(/\[emperor\] vassal node\.ini has been spawned/, 'uWSGI heard byte 1 (spawned)');
    await seen(/\[emperor\] vassal node\.ini is ready to accept requests/, 'uWSGI heard byte 5 (accepting)');
    await until(() => answers(port), 'the tsgi vassal answers', log);
    await seen(/\[emperor\] vassal node\.ini is now loyal/, 'uWSGI heard byte 17 (loyal) after the first request');
    const master = Number(/tsgi master \(pid (\d+)\)/.exec(log())![1]);
    const before = (await get(port)).body;
    touch(vassal);
    await seen(/\[emperor\] reload the uwsgi instance node\.ini/, 'uWSGI sent byte 1 (reload)');
    await seen(/the Emperor said reload: graceful reload/, 'the tsgi vassal obeyed');
    await until(async () => (await get(port)).body !== before && (await answers(port)), 'a new tsgi worker answers', log);
    assert.ok(alive(master), 'the tsgi vassal reloaded in place');
    rmSync(vassal);
    await seen(/\[emperor\] stop the uwsgi instance node\.ini/, 'uWSGI sent byte 0 (stop)');
    await seen(/the Emperor said stop: stopping everything now/, 'the tsgi vassal stopped');
    await seen(/\[emperor\] removed uwsgi instance node\.ini/, 'uWSGI reaped it');
    assert.not.ok(alive(master), 'the tsgi vassal is gone');

    // A second vassal, then the uWSGI Emperor is SIGKILLed: the vassal sees its pipe close.
    const port2 = await pickPort();
    writeVassal(join(vassals, 'orphan.ini'), 'ini', vassalOptions(port2));
    await until(() => answers(port2), 'the second tsgi vassal answers', log);
    const orphan = Number([...log().matchAll(/tsgi master \(pid (\d+)\)/g)].at(-1)![1]);
    const orphanWorker = Number([...log().matchAll(/spawned worker 1 \(pid (\d+)\)/g)].at(-1)![1]);
    uwsgi.child.kill('SIGKILL');
    // uWSGI gives its vassals a parent-death signal, so the kernel may stop the vassal before it
    // reads the end of its pipe ("lost connection with my emperor"): either way nothing is left.
    await until(() => !alive(orphan) && !alive(orphanWorker), 'the orphaned vassal and its worker stopped', log);
  } finally {
    await uwsgi.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
