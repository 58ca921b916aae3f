/**
 * --max-semi-space: the V8 nursery cap of every process that serves requests. The fixture app
 * churns objects that survive scavenges (so V8 grows the nursery as far as it may) and reports
 * the nursery size, its pid and its node flags.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, startTsgi, tempDir } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

const MIB = 1024 * 1024;

interface NurseryReport {
  pid: number;
  nurseryBytes: number;
  execArgv: string[];
}

async function report(port: number): Promise<NurseryReport> {
  const response = await httpGet({ port });
  assert.is(response.status, 200);
  return JSON.parse(response.body) as NurseryReport;
}

function cmdline(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
}

test('a single process restarts in place with the default 1 MiB cap and keeps it', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'nursery'], { cwd: FIXTURE_APPS });
  try {
    const seen = await report(port);
    assert.is(seen.pid, server.pid, 'the same process (execve keeps the pid)');
    assert.equal(seen.execArgv, ['--max-semi-space-size=1']);
    assert.ok(seen.nurseryBytes <= 2 * MIB, `nursery ${seen.nurseryBytes} bytes`);
    assert.is(server.log().match(/ready \(pid/g)?.length, 1, 'one start-up, not two');
  } finally {
    await server.stop();
  }
});

test('--max-semi-space 0 leaves V8 to grow the nursery', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'nursery', '--max-semi-space', '0'], { cwd: FIXTURE_APPS });
  try {
    const seen = await report(port);
    assert.equal(seen.execArgv, []);
    assert.ok(seen.nurseryBytes > 4 * MIB, `nursery ${seen.nurseryBytes} bytes`);
  } finally {
    await server.stop();
  }
});

test('the master passes the cap to its workers and keeps none for itself', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'nursery', '--master', '--processes', '2', '--max-semi-space', '4'], { cwd: FIXTURE_APPS });
  try {
    const seen = await report(port);
    assert.is.not(seen.pid, server.pid);
    assert.equal(seen.execArgv, ['--max-semi-space-size=4']);
    assert.ok(seen.nurseryBytes <= 8 * MIB && seen.nurseryBytes > 2 * MIB, `nursery ${seen.nurseryBytes} bytes`);
    assert.not.ok(cmdline(server.pid).some((arg) => arg.startsWith('--max-semi-space-size')), 'the master was not restarted');
  } finally {
    await server.stop();
  }
});

test("node's own --max-semi-space-size in NODE_OPTIONS wins: no restart, no second flag", async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'nursery'], { cwd: FIXTURE_APPS, env: { NODE_OPTIONS: '--max-semi-space-size=2' } });
  try {
    const seen = await report(port);
    assert.equal(seen.execArgv, []);
    assert.ok(seen.nurseryBytes <= 4 * MIB && seen.nurseryBytes > 2 * MIB, `nursery ${seen.nurseryBytes} bytes`);
  } finally {
    await server.stop();
  }
});

test('a config read from a command is read once, not again by the restarted process', async () => {
  const dir = tempDir();
  const port = await pickPort();
  const script = join(dir, 'config.sh');
  const runs = join(dir, 'runs');
  writeFileSync(script, `echo run >> ${runs}\nprintf '[uwsgi]\\nhttp-socket = 127.0.0.1:${port}\\nmodule = nursery\\n'\n`);
  const server = await startTsgi(['--ini', `exec://sh ${script}`], { cwd: FIXTURE_APPS });
  try {
    const seen = await report(port);
    assert.equal(seen.execArgv, ['--max-semi-space-size=1']);
    assert.is(readFileSync(runs, 'utf8'), 'run\n');
  } finally {
    await server.stop();
  }
});

test.run();
