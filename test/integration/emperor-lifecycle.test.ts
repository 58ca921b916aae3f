/**
 * The Emperor against real vassals (whole tsgi instances): a glob of ini, yaml and json files all
 * start; touching one reloads it gracefully (ready-gated over the pipe) with no failed request
 * under load; removing one stops it, adding one starts it; SIGHUP reloads them all; SIGTERM stops
 * everything (no process left); a SIGKILLed Emperor's vassals see their pipe close and go.
 */
import { mkdirSync, rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { alive, spawnedPids, until, vassalOptions, writeVassal, type VassalFormat } from '../helpers/emperor.js';
import { hammer } from '../helpers/load.js';
import { pickPort } from '../helpers/ports.js';
import { httpGet, readStats, startTsgi, tempDir } from '../helpers/tsgi.js';

const answers = async (port: number) => (await httpGet({ port, host: '127.0.0.1' }).catch(() => ({ status: 0, body: '' }))).status === 200;
const pidOf = async (port: number) => Number(/^pid (\d+)/.exec((await httpGet({ port, host: '127.0.0.1' })).body)![1]);

/** Three vassals under DIR/<name>/config.<format>, as the talk's `--emperor /var/apps/*\/config.*`. */
async function threeVassals(dir: string): Promise<Array<{ format: VassalFormat; path: string; port: number }>> {
  const vassals = [];
  for (const format of ['ini', 'yaml', 'json'] as const) {
    mkdirSync(join(dir, format));
    const port = await pickPort();
    const path = join(dir, format, `config.${format}`);
    writeVassal(path, format, vassalOptions(port));
    vassals.push({ format, path, port });
  }
  return vassals;
}

test('a glob of ini/yaml/json vassals all start; a touched one reloads with no failed request under load; removed stops, added starts; SIGTERM leaves no process', async () => {
  const dir = tempDir();
  const vassals = await threeVassals(dir);
  const statsPort = await pickPort();
  const emperor = await startTsgi(['--emperor', `${dir}/*/config.*`, '--emperor-freq', '1', '--emperor-stats', `127.0.0.1:${statsPort}`], { cwd: dir, ready: /starting the tsgi Emperor/ });
  try {
    for (const { port } of vassals) await until(() => answers(port), `the vassal on ${port} answers`, emperor.log, 20_000);
    for (const { path } of vassals) await emperor.waitFor(new RegExp(`vassal ${path} \\(pid \\d+\\) has been spawned: ready`));
    const stats = await readStats(statsPort);
    const rows = stats.vassals as Array<{ id: string; pid: number; loyal: number; respawns: number }>;
    assert.equal(rows.map((row) => row.id).sort(), vassals.map((v) => v.path).sort(), 'the stats list every vassal by its path');
    await until(async () => ((await readStats(statsPort)).vassals as Array<{ loyal: number }>).every((row) => row.loyal === 1), 'every vassal is loyal after its first request', emperor.log);

    // Touch the ini vassal while it is under load: its master swaps its worker, ready-gated.
    const [ini, yaml, json] = vassals as [typeof vassals[0], typeof vassals[0], typeof vassals[0]];
    const before = await pidOf(ini.port);
    const load = hammer(ini.port, '/sleep?s=0.05', 8);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const future = new Date(Date.now() + 5000);
    utimesSync(ini.path, future, future);
    await emperor.waitFor(new RegExp(`vassal ${ini.path} \\(pid \\d+\\): its file changed, graceful reload`), 5000);
    await emperor.waitFor(new RegExp(`vassal ${ini.path} \\(pid \\d+\\) reloaded: ready again`), 20_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const result = await load.stop();
    assert.is(result.failed, 0, `no failed request during the reload: ${result.errors.slice(0, 3).join('; ')}\n${emperor.log()}`);
    assert.ok(result.done > 20, `the load ran (${result.done} requests)`);
    assert.is.not(await pidOf(ini.port), before, 'a new worker answers after the reload');

    // Remove the yaml vassal: it stops and is not respawned; add a fourth: it starts.
    rmSync(yaml.path);
    await emperor.waitFor(new RegExp(`vassal ${yaml.path} \\(pid (\\d+)\\): its file was removed, stop`), 5000);
    await emperor.waitFor(new RegExp(`vassal ${yaml.path} \\(pid \\d+\\) stopped`), 10_000);
    await until(async () => !(await answers(yaml.port)), 'the removed vassal no longer answers', emperor.log);
    mkdirSync(join(dir, 'added'));
    const addedPort = await pickPort();
    writeVassal(join(dir, 'added', 'config.ini'), 'ini', vassalOptions(addedPort, { master: 'false', processes: '1' }));
    await until(() => answers(addedPort), 'the added single-process vassal answers', emperor.log, 20_000);
    assert.ok(await answers(json.port), 'the json vassal served on throughout');

    const pids = spawnedPids(emperor.log());
    assert.ok(pids.length >= 8, `the log names the vassals and their workers (${pids.length})`);
    assert.is(await emperor.stop('SIGTERM'), 0, emperor.log());
    assert.match(emperor.log(), /the Emperor stops, graceful stop/);
    await until(() => pids.every((pid) => !alive(pid)), 'no vassal or worker is left', emperor.log, 5000);
  } finally {
    await emperor.tracked.stop(1000);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("SIGHUP reloads every vassal gracefully; a SIGKILLed Emperor's vassals lose their pipe and stop", async () => {
  const dir = tempDir();
  const ports = [await pickPort(), await pickPort()];
  writeVassal(join(dir, 'one.ini'), 'ini', vassalOptions(ports[0]!));
  writeVassal(join(dir, 'two.json'), 'json', vassalOptions(ports[1]!, { master: 'false' }));
  const emperor = await startTsgi(['--emperor', dir], { cwd: dir, ready: /starting the tsgi Emperor/ });
  try {
    for (const port of ports) await until(() => answers(port), `the vassal on ${port} answers`, emperor.log, 20_000);
    await emperor.waitFor(/vassal one\.ini \(pid \d+\) has been spawned: ready/);
    const singleBefore = await pidOf(ports[1]!);
    emperor.child.kill('SIGHUP');
    await emperor.waitFor(/vassal one\.ini \(pid \d+\) reloaded: ready again/, 20_000);
    // A single process cannot swap workers: it reloads by exiting and being respawned.
    await until(async () => (await answers(ports[1]!)) && (await pidOf(ports[1]!)) !== singleBefore, 'the single-process vassal came back as a new process', emperor.log, 20_000);
    const pids = spawnedPids(emperor.log());
    emperor.child.kill('SIGKILL');
    await emperor.exited;
    await until(() => pids.every((pid) => !alive(pid)), 'every vassal saw its pipe close and stopped', emperor.log, 10_000);
    assert.match(emperor.log(), /lost connection with my emperor/);
  } finally {
    await emperor.tracked.stop(1000);
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
