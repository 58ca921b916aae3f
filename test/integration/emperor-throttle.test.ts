/**
 * The Emperor's defences: a broken vassal (it dies before serving, so it is never loyal) is
 * throttled by the blacklist — its spawns counted over time — while a good one serves on; a
 * vassal that stops sending heartbeats is killed and respawned; tyrant mode runs a vassal as its
 * file's owner and refuses files owned by root.
 */
import { chmodSync, chownSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { alive, uidOf, until, vassalOptions, writeVassal } from '../helpers/emperor.js';
import { hammer } from '../helpers/load.js';
import { pickPort } from '../helpers/ports.js';
import { httpGet, readStats, sleep, startTsgi, tempDir } from '../helpers/tsgi.js';

const answers = async (port: number) => (await httpGet({ port, host: '127.0.0.1' }).catch(() => ({ status: 0 }))).status === 200;
const count = (log: string, pattern: RegExp) => (log.match(new RegExp(pattern, 'g')) ?? []).length;

test('a broken vassal is throttled by growing delays (its spawns counted) while a good one serves without a failure', async () => {
  const dir = tempDir();
  const goodPort = await pickPort();
  const statsPort = await pickPort();
  writeVassal(join(dir, 'good.ini'), 'ini', vassalOptions(goodPort));
  writeVassal(join(dir, 'broken.ini'), 'ini', vassalOptions(await pickPort(), { module: 'no_such_module' }));
  const emperor = await startTsgi(['--emperor', dir, '--emperor-throttle', '500', '--emperor-stats', `127.0.0.1:${statsPort}`], { cwd: dir, ready: /starting the tsgi Emperor/ });
  try {
    await until(() => answers(goodPort), 'the good vassal answers', emperor.log, 20_000);
    const load = hammer(goodPort, '/', 4);
    const started = Date.now();
    await sleep(8000);
    const result = await load.stop();
    const elapsed = (Date.now() - started) / 1000;
    const spawns = count(emperor.log(), /spawned vassal broken\.ini/);
    // Unthrottled, a vassal that dies within a second of its spawn would be spawned 10+ times in
    // this window; throttled by 0.5, 1, 1.5, 2, 2.5 … s (plus the boot of each) it gets a handful.
    assert.ok(spawns >= 3 && spawns <= 7, `${spawns} spawns of the broken vassal in ${elapsed.toFixed(1)} s:\n${emperor.log()}`);
    assert.match(emperor.log(), /vassal broken\.ini \(pid \d+\) died \(exit code 1\) before it was loyal: next spawn in 1\.5 s \(attempt 3\)/);
    assert.is(result.failed, 0, `the good vassal served throughout: ${result.errors.slice(0, 3).join('; ')}`);
    assert.ok(result.done > 50, `the good vassal answered ${result.done} requests`);
    const stats = await readStats(statsPort);
    const blacklist = stats.blacklist as Array<{ id: string; attempt: number; throttle_level: number }>;
    const entry = blacklist.find((row) => row.id.endsWith('broken.ini'));
    assert.ok(entry !== undefined && entry.attempt >= 3 && entry.throttle_level === entry.attempt * 500, `the blacklist row: ${JSON.stringify(blacklist)}`);
    assert.not.ok(blacklist.some((row) => row.id.endsWith('good.ini')), 'the loyal vassal is not blacklisted');
  } finally {
    await emperor.tracked.stop(1000);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a vassal that stops its heartbeats is killed and respawned after --emperor-required-heartbeat', async () => {
  const dir = tempDir();
  const port = await pickPort();
  writeVassal(join(dir, 'beating.ini'), 'ini', vassalOptions(port, { heartbeat: '1' }));
  const emperor = await startTsgi(['--emperor', dir, '--emperor-required-heartbeat', '3'], { cwd: dir, ready: /starting the tsgi Emperor/ });
  try {
    const first = Number((await emperor.waitFor(/spawned vassal beating\.ini \(pid (\d+)\)/))[1]);
    await until(() => answers(port), 'the vassal answers (and so is loyal)', emperor.log, 20_000);
    await emperor.waitFor(/vassal beating\.ini \(pid \d+\) is now loyal/);
    await sleep(4000);
    assert.not.match(emperor.log(), /sent no heartbeat/, 'beating every second, it is left alone');
    process.kill(first, 'SIGSTOP'); // hung: no more heartbeats
    await emperor.waitFor(new RegExp(`vassal beating\\.ini \\(pid ${first}\\) sent no heartbeat in 3 s: killing it`), 10_000);
    await emperor.waitFor(/spawned vassal beating\.ini \(pid \d+\) \(respawn 1\)/, 10_000);
    await until(() => answers(port), 'the respawned vassal answers', emperor.log, 20_000);
    await until(() => !alive(first), 'the hung vassal is gone', emperor.log);
  } finally {
    await emperor.tracked.stop(1000);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("tyrant mode runs a vassal as its file's owner and refuses a file owned by root", async () => {
  if (process.getuid?.() !== 0) throw new Error('tyrant mode needs the tests to run as root (setuid to the file owner)');
  const dir = tempDir();
  chmodSync(dir, 0o755); // the vassal, as nobody, chdirs here
  const port = await pickPort();
  const rootPort = await pickPort();
  const owned = join(dir, 'nobody.ini');
  writeVassal(owned, 'ini', vassalOptions(port));
  chownSync(owned, 65534, 65534);
  writeVassal(join(dir, 'root.ini'), 'ini', vassalOptions(rootPort));
  const emperor = await startTsgi(['--emperor', dir, '--emperor-tyrant', '--emperor-freq', '1'], { cwd: dir, ready: /starting the tsgi Emperor/ });
  try {
    const master = Number((await emperor.waitFor(/spawned vassal nobody\.ini \(pid (\d+)\) as uid 65534 gid 65534/))[1]);
    await until(() => answers(port), 'the tyrant vassal answers', emperor.log, 20_000);
    const body = (await httpGet({ port, host: '127.0.0.1' })).body;
    const worker = Number(/^pid (\d+)/.exec(body)![1]);
    assert.match(body, /uid 65534$/, 'the app runs as nobody');
    assert.is(uidOf(master), 65534, 'the vassal master runs as nobody (/proc)');
    assert.is(uidOf(worker), 65534, 'its worker too');
    await emperor.waitFor(/tyrant mode refuses \S+root\.ini: it is owned by uid 0 gid 0.*\[TSGI_ERR_EMPEROR_TYRANT\]/);
    await sleep(2500);
    assert.is(count(emperor.log(), /tyrant mode refuses/), 1, 'refused once, not once per scan');
    assert.not.ok(await answers(rootPort), 'no vassal for the root-owned file');
    // A new owner stops the vassal (and the file, now root's, is refused).
    chownSync(owned, 0, 0);
    await emperor.waitFor(new RegExp(`vassal nobody\\.ini \\(pid ${master}\\): its file changed owner to 0:0, stop`), 5000);
    await until(() => !alive(master), 'the vassal whose file changed owner is gone', emperor.log);
  } finally {
    await emperor.tracked.stop(1000);
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
