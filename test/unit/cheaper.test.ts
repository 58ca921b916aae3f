/**
 * The cheaper options' checks (both options named, with file:line) and the algorithms as pure
 * strategies fed hand-made scoreboard samples over a simulated clock.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isTsgiError } from '../../runtime/errors.js';
import type { CheaperView, WorkerSample } from '../../runtime/master/cheaper/algo.js';
import { Backlog } from '../../runtime/master/cheaper/backlog.js';
import { Busyness } from '../../runtime/master/cheaper/busyness.js';
import { Spare } from '../../runtime/master/cheaper/spare.js';
import { startingWorkers } from '../../runtime/master/cheaper.js';
import { OPTION_CHECKS, parseArgv } from '../../runtime/options.js';
import { tempDir } from '../helpers/tsgi.js';

const BASE = ['--http-socket', '127.0.0.1:9090', '--module', 'app'];

function checkError(argv: string[]): Error {
  const options = parseArgv([...BASE, ...argv]);
  try {
    for (const check of OPTION_CHECKS) check(options);
  } catch (error) {
    assert.ok(isTsgiError(error, 'TSGI_ERR_CHEAPER_OPTIONS'), String(error));
    assert.instance(error, RangeError);
    return error as Error;
  }
  return assert.unreachable('no error') as never;
}

test('cheaper options: --cheaper not below --processes names both, with the ini file and line of each', () => {
  const ini = join(tempDir(), 'app.ini');
  writeFileSync(ini, '[uwsgi]\nmaster = true\nprocesses = 4\ncheaper = 4\n');
  assert.match(checkError([ini]).message, `--cheaper 4 (${ini}:4) must be lower than --processes 4 (${ini}:3)`);
  assert.match(checkError(['--cheaper', '2']).message, '--cheaper 2 (command line) must be lower than --processes 1 (default)');
});

test('cheaper options: --cheaper-initial between --cheaper and --processes, and only with --cheaper', () => {
  assert.match(checkError(['--processes', '4', '--cheaper', '2', '--cheaper-initial', '1']).message, '--cheaper-initial 1 (command line) must be between --cheaper 2 (command line) and --processes 4 (command line)');
  assert.match(checkError(['--processes', '4', '--cheaper', '2', '--cheaper-initial', '5']).message, 'must be between');
  assert.match(checkError(['--processes', '4', '--cheaper-initial', '2']).message, '--cheaper-initial 2 (command line) needs --cheaper N');
  const options = parseArgv([...BASE, '--processes', '4', '--cheaper', '1', '--cheaper-initial', '3']);
  for (const check of OPTION_CHECKS) check(options);
  assert.is(startingWorkers(options), 3);
  assert.is(startingWorkers(parseArgv([...BASE, '--processes', '4', '--cheaper', '2'])), 2, 'default: --cheaper');
  assert.is(startingWorkers(parseArgv([...BASE, '--processes', '4'])), 4, 'no cheaper: --processes');
});

test('cheaper options: busyness min below max; backlog needs a TCP socket; unknown algo is a value error', () => {
  assert.match(checkError(['--processes', '4', '--cheaper', '1', '--cheaper-algo', 'busyness', '--cheaper-busyness-min', '60']).message, '--cheaper-busyness-min 60 (command line) must be lower than --cheaper-busyness-max 50 (default)');
  const options = parseArgv(['--http-socket', '/tmp/x.sock', '--module', 'app', '--processes', '4', '--cheaper', '1', '--cheaper-algo', 'backlog']);
  assert.throws(() => OPTION_CHECKS.forEach((check) => check(options)), /reads the listen queue of a TCP socket/);
  assert.throws(() => parseArgv([...BASE, '--cheaper-algo', 'spare2']), (error: Error) => isTsgiError(error, 'TSGI_ERR_OPT_VALUE') && /expected one of spare, backlog, busyness/.test(error.message));
});

const worker = (slot: number, fields: Partial<WorkerSample> = {}): WorkerSample => ({ slot, ready: true, busy: false, requests: 0, runningTime: 0, ...fields });
const view = (now: number, workers: WorkerSample[], backlog?: number): CheaperView => ({ now, workers, min: 1, max: 4, backlog: () => backlog });

test('spare: spawns after a whole period of every worker busy, not after a shorter one; retires the highest idle worker, one a period', () => {
  const spare = new Spare(3000, 2);
  const busy = [worker(1, { busy: true }), worker(2, { busy: true })];
  assert.is(spare.decide(view(0, busy)), undefined);
  assert.is(spare.decide(view(2000, [busy[0]!, worker(2)])), undefined, 'one idle moment resets the period');
  assert.is(spare.decide(view(2500, busy)), undefined);
  assert.is(spare.decide(view(5000, busy)), undefined);
  assert.equal(spare.decide(view(5500, busy)), { spawn: 2, reason: 'all 2 workers busy for 3 s' });
  const idle = [worker(1), worker(2), worker(3)];
  assert.is(spare.decide(view(10_000, idle)), undefined, 'idle, but not yet for a period');
  assert.equal(spare.decide(view(13_000, idle)), { retire: true, slot: 3, reason: 'worker 3 idle for 3 s' });
  spare.retired(13_000);
  assert.is(spare.decide(view(14_000, idle.slice(0, 2))), undefined, 'one retire a period');
  assert.equal(spare.decide(view(16_000, idle.slice(0, 2))), { retire: true, slot: 2, reason: 'worker 2 idle for 6 s' });
  assert.is(spare.decide(view(20_000, [worker(1)])), undefined, 'never below --cheaper');
});

test('spare: a worker that finished requests since the last look is not idle, however it looks now', () => {
  const spare = new Spare(1000, 1);
  spare.decide(view(0, [worker(1), worker(2)]));
  assert.equal(spare.decide(view(1500, [worker(1), worker(2, { requests: 5 })])), { retire: true, slot: 1, reason: 'worker 1 idle for 1.5 s' }, 'not 2, the highest');
});

test('backlog: checks once a second; above --cheaper-overload spawns, below retires an idle worker only', () => {
  const backlog = new Backlog(3, 1);
  assert.equal(backlog.decide(view(1000, [worker(1, { busy: true })], 5)), { spawn: 1, reason: '5 connections in the listen queue (more than 3)' });
  assert.is(backlog.decide(view(1500, [worker(1, { busy: true })], 9)), undefined, 'once a second');
  assert.is(backlog.decide(view(2000, [worker(1, { busy: true }), worker(2)], 3)), undefined, 'at the threshold: nothing');
  assert.is(backlog.decide(view(3000, [worker(1, { busy: true }), worker(2, { busy: true })], 0)), undefined, 'every worker busy: none retired');
  assert.is(backlog.decide(view(4000, [worker(1), worker(2, { requests: 1 })], 0))?.reason, '0 connections in the listen queue (fewer than 3), worker 1 idle');
});

function busynessOptions(extra: string[] = []) {
  return parseArgv([...BASE, '--processes', '4', '--cheaper', '1', '--cheaper-algo', 'busyness', '--cheaper-overload', '10', '--cheaper-busyness-multiplier', '3', '--cheaper-busyness-penalty', '2', ...extra]);
}

test('busyness: a window above max spawns; multiplier idle windows retire; a respawn soon after a retire adds the penalty', () => {
  const algo = new Busyness(busynessOptions());
  const at = (seconds: number, microsPerWorker: number[], backlog?: number) => algo.decide(view(seconds * 1000, microsPerWorker.map((t, i) => worker(i + 1, { runningTime: t })), backlog));
  assert.is(at(0, [0, 0]), undefined);
  assert.equal(at(10, [8e6, 6e6]), { spawn: 1, reason: '10 s average busyness of 2 worker(s) is 70 %, above 50 %' });
  algo.spawned(1, 10_000);
  assert.is(at(20, [9e6, 7e6, 0]), undefined, 'an idle window: 1 of 3');
  assert.is(at(30, [9e6, 7e6, 0]), undefined, 'idle window 2 of 3');
  assert.is(at(40, [9e6, 7e6, 0])?.reason, '10 s average busyness of 3 worker(s) below 25 % for 3 cycle(s)');
  algo.retired(40_000);
  assert.is(at(50, [19e6, 7e6]), undefined, '50 %: not above max');
  assert.ok(at(60, [29e6, 17e6]) !== undefined, '100 %: spawn');
  algo.spawned(1, 60_000);
  assert.is((algo.stats() as { multiplier: number }).multiplier, 5, 'respawned 20 s after a retire that took 30 s: +2');
});

test('busyness: between min and max waits one more idle window; three in a row reset the count', () => {
  const algo = new Busyness(busynessOptions());
  let t = 0;
  const window = (percent: number) => {
    t += 10;
    return algo.decide(view(t * 1000, [worker(1, { runningTime: 0 }), worker(2, { runningTime: t * 1e6 * (percent / 50) })]));
  };
  algo.decide(view(0, [worker(1), worker(2)]));
  assert.is(window(0), undefined);
  assert.is(window(0), undefined);
  assert.is(window(30), undefined, 'in between: the count holds');
  assert.ok(window(0) !== undefined, 'the third idle window retires');
});

test('busyness: a listen queue above --cheaper-busyness-backlog-alert spawns emergency workers at once, retired after the backlog multiplier', () => {
  const algo = new Busyness(busynessOptions(['--cheaper-busyness-backlog-alert', '10', '--cheaper-busyness-backlog-step', '2']));
  assert.equal(algo.decide(view(1000, [worker(1)], 11)), { spawn: 2, reason: '11 connections in the listen queue (more than 10): emergency' });
  algo.spawned(2, 1000);
  assert.is((algo.stats() as { emergency: number }).emergency, 2);
  assert.is(algo.decide(view(1500, [worker(1)], 50)), undefined, 'once a second');
});

test.run();
