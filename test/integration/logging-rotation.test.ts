/**
 * Log files that move: --log-maxsize rotation (to FILE.<unix time>, or --log-backupname),
 * reopening on SIGUSR1 after logrotate-style renaming, --touch-logreopen, and the master
 * FIFO's `l` — each against a real tsgi writing real files.
 */
import { existsSync, readdirSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readLog, waitForLog } from '../helpers/logs.js';
import { pickPort } from '../helpers/ports.js';
import { httpGet, sleep, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';

async function serve(dir: string, args: string[]): Promise<{ server: Server; port: number; file: string }> {
  const port = await pickPort();
  const file = join(dir, 'tsgi.log');
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'myapp', '--master', '--processes', '1', '--logto', file, ...args], { ready: null });
  await waitForLog(file, /all 1 workers ready/, 15_000);
  return { server, port, file };
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

test('--log-maxsize: past the size the file moves to FILE.<unix time> and a new one starts; nothing is lost', async () => {
  const dir = tempDir();
  const { server, port, file } = await serve(dir, ['--log-maxsize', '4000']);
  try {
    for (let i = 0; i < 40; i++) await httpGet({ port }, `/fill-${i}`);
    await until(() => readdirSync(dir).some((name) => /^tsgi\.log\.\d{10}$/.test(name)), 'a backup exists');
    const backup = join(dir, readdirSync(dir).find((name) => /^tsgi\.log\.\d{10}$/.test(name))!);
    assert.ok(Math.abs(Number(backup.split('.').pop()) - Date.now() / 1000) < 60, 'named after the unix time');
    assert.ok(statSync(backup).size > 4000, 'the backup is the file that grew past the size');
    await waitForLog(file, /--log-maxsize 4000: file .*tsgi\.log rotated/);
    const all = readLog(backup) + readLog(file) + readdirSync(dir).filter((n) => n !== 'tsgi.log' && n !== backup.split('/').pop()).map((n) => readLog(join(dir, n))).join('');
    for (let i = 0; i < 40; i++) assert.match(all, new RegExp(`GET /fill-${i} `), `request ${i} is in one of the files`);
  } finally {
    await server.stop();
  }
});

test('--log-backupname: the rotated file gets that name', async () => {
  const dir = tempDir();
  const { server, port } = await serve(dir, ['--log-maxsize', '2000', '--log-backupname', join(dir, 'old.log')]);
  try {
    for (let i = 0; i < 20; i++) await httpGet({ port }, `/b-${i}`);
    await until(() => existsSync(join(dir, 'old.log')), 'old.log exists');
  } finally {
    await server.stop();
  }
});

test('SIGUSR1 reopens the log: after a logrotate-style rename, new lines go to a new file at the old path', async () => {
  const dir = tempDir();
  const { server, port, file } = await serve(dir, []);
  try {
    await httpGet({ port }, '/before');
    await waitForLog(file, /GET \/before/);
    renameSync(file, `${file}.1`);
    await httpGet({ port }, '/renamed');
    await waitForLog(`${file}.1`, /GET \/renamed/); // still the open file, as with any daemon before its reopen
    process.kill(server.pid, 'SIGUSR1');
    await waitForLog(file, /SIGUSR1: log files reopened \(file /);
    await httpGet({ port }, '/after');
    await waitForLog(file, /GET \/after/);
    assert.not.match(readLog(`${file}.1`), /GET \/after/);
    assert.ok(server.child.exitCode === null, 'SIGUSR1 did not stop the instance');
  } finally {
    await server.stop();
  }
});

test('--touch-logreopen FILE: touching it reopens the logs', async () => {
  const dir = tempDir();
  const trigger = join(dir, 'reopen.trigger');
  writeFileSync(trigger, '');
  const { server, port, file } = await serve(dir, ['--touch-logreopen', trigger]);
  try {
    renameSync(file, `${file}.old`);
    const later = new Date(Date.now() + 5000);
    utimesSync(trigger, later, later);
    await waitForLog(file, /reopen\.trigger touched \(--touch-logreopen\): log files reopened/);
    await httpGet({ port }, '/touched');
    await waitForLog(file, /GET \/touched/);
  } finally {
    await server.stop();
  }
});

test('--log-reopen: a graceful reload (SIGHUP) reopens the logs; without it a reload leaves them open', async () => {
  const dir = tempDir();
  const { server, file } = await serve(dir, ['--log-reopen']);
  try {
    renameSync(file, `${file}.old`);
    process.kill(server.pid, 'SIGHUP');
    await waitForLog(file, /graceful reload \(--log-reopen\): log files reopened/);
  } finally {
    await server.stop();
  }
  const plainDir = tempDir();
  const plain = await serve(plainDir, []);
  try {
    renameSync(plain.file, `${plain.file}.old`);
    process.kill(plain.server.pid, 'SIGHUP');
    await waitForLog(`${plain.file}.old`, /all 1 workers ready[\s\S]*all 1 workers ready|workers ready[\s\S]*reload/);
    assert.not.ok(existsSync(plain.file), 'no new file without --log-reopen');
  } finally {
    await plain.server.stop();
  }
});

test('the master FIFO\'s l reopens the logs too', async () => {
  const dir = tempDir();
  const fifo = join(dir, 'master.fifo');
  const { server, file } = await serve(dir, ['--master-fifo', fifo]);
  try {
    renameSync(file, `${file}.old`);
    writeFileSync(fifo, 'l');
    await waitForLog(file, /master FIFO l: log files reopened/);
  } finally {
    await server.stop();
  }
});

test.run();
