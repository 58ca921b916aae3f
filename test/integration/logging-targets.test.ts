/**
 * Log targets against real listeners: --logto FILE, --logto HOST:PORT (a real UDP socket),
 * --logger syslog (a real unix datagram socket standing in for /dev/log, which this machine
 * lacks: TSGI_SYSLOG_SOCKET points the target there), several at once, --req-logger keeping
 * the request lines apart, and a target that fails: its lines are dropped, counted, and the
 * count arrives once it is back, while the worker keeps serving.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readLog, udpListener, unixDgramListener, waitForLog } from '../helpers/logs.js';
import { pickPort } from '../helpers/ports.js';
import { httpGet, sleep, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';

async function serve(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ server: Server; port: number }> {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'myapp', '--master', '--processes', '1', ...args], { ready: null, env });
  return { server, port };
}

async function getWhenUp(port: number, path: string, server: Server): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const response = await httpGet({ port }, path);
      assert.is(response.status, 200);
      return;
    } catch (error) {
      if (Date.now() > deadline || server.child.exitCode !== null) throw new Error(`no answer on ${port}: ${(error as Error).message}\n${server.log()}`);
      await sleep(100);
    }
  }
}

test('/dev/log on this machine: syslog tests use a listener of their own (TSGI_SYSLOG_SOCKET)', () => {
  if (!existsSync('/dev/log')) console.log('  note: /dev/log does not exist on this machine (no syslog daemon); the syslog target is tested against a unix-dgram listener');
  assert.ok(true);
});

test('--logto FILE gets the lifecycle lines (dated) and the request lines; stderr stays quiet', async () => {
  const file = join(tempDir(), 'tsgi.log');
  const { server, port } = await serve(['--logto', file]);
  try {
    await waitForLog(file, /all 1 workers ready/);
    await getWhenUp(port, '/via-file', server);
    await waitForLog(file, /GET \/via-file => generated \d+ bytes/);
    assert.match(readLog(file), /^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} - \[master\] tsgi master \(pid \d+\) starting/m, 'lifecycle lines carry the date');
    assert.match(readLog(file), /^\[pid: \d+\|worker: 1\|req: 1\] 127\.0\.0\.1 .* GET \/via-file => generated/m, 'the request line is uWSGI\'s, undated');
    assert.not.match(server.log(), /ready|GET/, `nothing on stderr: ${server.log()}`);
  } finally {
    await server.stop();
  }
});

test('--logto HOST:PORT sends each line as one datagram to a real UDP listener', async () => {
  const udpPort = await pickPort();
  const listener = await udpListener(udpPort);
  const { server, port } = await serve(['--logto', `127.0.0.1:${udpPort}`]);
  try {
    await listener.waitFor(/all 1 workers ready$/);
    await getWhenUp(port, '/via-udp', server);
    const line = await listener.waitFor(/GET \/via-udp/);
    assert.not.match(line, /\n/, 'one line a datagram, no newline');
    assert.ok(listener.datagrams.every((datagram) => !datagram.includes('\n')), 'every datagram is one line');
  } finally {
    await server.stop();
    await listener.close();
  }
});

test('--logger syslog:IDENT,FACILITY sends syslog(3)-format datagrams to a real unix-dgram socket; with --logto and udp at once, every target gets every line', async () => {
  const dir = tempDir();
  const socketPath = join(dir, 'log.sock');
  const file = join(dir, 'all.log');
  const syslog = await unixDgramListener(socketPath);
  const udpPort = await pickPort();
  const udp = await udpListener(udpPort);
  const { server, port } = await serve(['--logger', 'syslog:myapp,local3', '--logto', file, '--logger', `udp:127.0.0.1:${udpPort}`], { TSGI_SYSLOG_SOCKET: socketPath });
  try {
    await getWhenUp(port, '/everywhere', server);
    // local3 (19) × 8 + info (6) = 158; the ident carries the master's pid, as syslog(3) writes it
    const line = await syslog.waitFor(/GET \/everywhere/);
    assert.match(line, /^<158>\w{3} [ \d]\d \d\d:\d\d:\d\d myapp\[\d+\]: \[pid: \d+\|worker: 1\|req: 1\] 127\.0\.0\.1 /);
    await syslog.waitFor(/^<158>.* myapp\[\d+\]: .*\[master\] all 1 workers ready$/);
    await udp.waitFor(/GET \/everywhere/);
    await waitForLog(file, /GET \/everywhere/);
  } finally {
    await server.stop();
    await syslog.close();
    await udp.close();
  }
});

test('--req-logger file:PATH takes the request lines alone; the other lines stay in --logto', async () => {
  const dir = tempDir();
  const general = join(dir, 'general.log');
  const requests = join(dir, 'requests.log');
  const { server, port } = await serve(['--logto', general, '--req-logger', `file:${requests}`]);
  try {
    await getWhenUp(port, '/apart', server);
    await waitForLog(requests, /GET \/apart/);
    await waitForLog(general, /all 1 workers ready/);
    assert.not.match(readLog(general), /GET \/apart/, 'no request line in the general log');
    assert.not.match(readLog(requests), /workers ready/, 'no lifecycle line in the request log');
  } finally {
    await server.stop();
  }
});

test('a UDP target nobody listens on drops lines with a count; once a listener is there it gets the count first, and the worker served throughout', async () => {
  const udpPort = await pickPort();
  const file = join(tempDir(), 'rest.log');
  const { server, port } = await serve(['--logto', file, '--logger', `udp:127.0.0.1:${udpPort}`]);
  try {
    await getWhenUp(port, '/first', server);
    for (let i = 0; i < 20; i++) assert.is((await httpGet({ port }, `/lost-${i}`)).status, 200);
    await server.waitFor(/log target udp 127\.0\.0\.1:\d+ failed \(ECONNREFUSED\): dropping its lines/);
    const listener = await udpListener(udpPort);
    try {
      await sleep(1200); // a second without refusals: the peer counts as back
      for (let i = 0; i < 5; i++) await httpGet({ port }, `/back-${i}`);
      const dropped = await listener.waitFor(/tsgi: \d+ log line\(s\) dropped while udp 127\.0\.0\.1:\d+ failed \(ECONNREFUSED\)/);
      assert.ok(Number(/(\d+) log line/.exec(dropped)![1]) >= 1, dropped);
      await listener.waitFor(/GET \/back-4/);
      assert.match(readLog(file), /GET \/lost-19/, 'the file target lost nothing meanwhile');
    } finally {
      await listener.close();
    }
  } finally {
    await server.stop();
  }
});

test('a log file on a full disk (/dev/full) never stops a worker: requests are answered, the failure said once', async () => {
  const { server, port } = await serve(['--logto', '/dev/full']);
  try {
    await getWhenUp(port, '/full', server);
    for (let i = 0; i < 50; i++) assert.is((await httpGet({ port }, `/full-${i}`)).status, 200);
    await server.waitFor(/log target file \/dev\/full failed \(ENOSPC\)/);
    assert.is(server.log().match(/failed \(ENOSPC\)/g)!.length, 1, `said once: ${server.log()}`);
  } finally {
    await server.stop();
  }
});

test('a log file that cannot be opened fails the start (exit 1), naming the file and why', async () => {
  const { server } = await serve(['--logto', '/nonexistent-dir/tsgi.log']);
  assert.is(await server.exited, 1);
  assert.match(server.log(), /cannot open the log file \/nonexistent-dir\/tsgi\.log: ENOENT/);
});

test('a bad --logger names the option and its file:line', async () => {
  const { server } = await serve(['--logger', 'carrier-pigeon:coop']);
  assert.is(await server.exited, 1);
  assert.match(server.log(), /--logger \(command line\).*unknown logger "carrier-pigeon"/);
});

test.run();
