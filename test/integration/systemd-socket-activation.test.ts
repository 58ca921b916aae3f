/**
 * Socket activation with Debian's real `systemd-socket-activate` (package systemd): it binds,
 * waits for the first connection, then execs tsgi with LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES.
 * A passed fd whose address matches a configured socket is used instead of binding it; one that
 * matches none serves as a --socket speaking --protocol. The socket files stay systemd's
 * (--vacuum leaves them), and no child sees the LISTEN_ variables.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { INSTALL_HINT } from '../helpers/peers.js';
import { pickPort } from '../helpers/ports.js';
import { readProcStats, spawnTracked, type TrackedProcess } from '../helpers/processes.js';
import { FIXTURE_APPS, httpGet, MAIN, sleep, tempDir } from '../helpers/tsgi.js';

const ACTIVATE = '/usr/bin/systemd-socket-activate';

/** systemd-socket-activate `activateArgs` node tsgi `tsgiArgs`, with its output captured. */
async function activate(activateArgs: string[], tsgiArgs: string[]): Promise<{ proc: TrackedProcess; log: () => string; waitFor: (re: RegExp) => Promise<void> }> {
  assert.ok(existsSync(ACTIVATE), `${ACTIVATE} is missing: ${INSTALL_HINT}`);
  const proc = spawnTracked('systemd-socket-activate', ACTIVATE, [...activateArgs, process.execPath, MAIN, ...tsgiArgs], { cwd: FIXTURE_APPS });
  let output = '';
  proc.child.stdout!.on('data', (chunk: Buffer) => (output += chunk));
  proc.child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
  const waitFor = async (pattern: RegExp) => {
    const deadline = Date.now() + 15_000;
    while (!pattern.test(output)) {
      if (Date.now() > deadline || proc.child.exitCode !== null) throw new Error(`no ${pattern} in:\n${output}`);
      await sleep(50);
    }
  };
  await waitFor(/Listening on/);
  return { proc, log: () => output, waitFor };
}

test('a TCP socket systemd passes is the --http-socket of the same address: tsgi serves on it without binding', async () => {
  const port = await pickPort();
  const { proc, log, waitFor } = await activate(['-l', `127.0.0.1:${port}`, '--fdname', 'web'], ['--master', '--processes', '2', '--http-socket', `127.0.0.1:${port}`, '--module', 'supervised']);
  try {
    // The first connection makes systemd-socket-activate exec tsgi; it waits in the backlog.
    const response = await httpGet({ port });
    assert.is(response.status, 200, log());
    assert.match(response.body, /^worker [12]$/);
    await waitFor(/all 2 workers ready/);
    assert.match(log(), new RegExp(`http socket 0 handed over by systemd to 127\\.0\\.0\\.1:${port} \\(web\\) \\(fd \\d+\\)`));
    assert.not.match(log(), /bound to/, 'nothing was bound by tsgi');
    assert.is(proc.child.pid, Number(log().match(/tsgi master \(pid (\d+)\)/)![1]), 'tsgi is the process systemd started (LISTEN_PID)');
    for (const [pid, stat] of readProcStats()) {
      if (stat.ppid === proc.pid) assert.not.match(readFileSync(`/proc/${pid}/environ`, 'latin1'), /LISTEN_(PID|FDS)=/, 'no child takes the fds for its own');
    }
  } finally {
    assert.is(await proc.stop(), 0, log());
  }
});

test('a unix socket matching no configured one serves as a --socket speaking --protocol; --vacuum leaves systemd its file', async () => {
  const path = join(tempDir(), 'activated.sock');
  const { proc, log, waitFor } = await activate(['-l', path], ['--master', '--protocol', 'http', '--module', 'supervised', '--vacuum']);
  try {
    const response = await httpGet({ socketPath: path });
    assert.is(response.status, 200, log());
    assert.is(response.body, 'worker 1');
    await waitFor(/all 1 workers ready/);
    assert.match(log(), new RegExp(`http socket 0 handed over by systemd on ${path} \\(fd \\d+\\), serving as a --socket`));
  } finally {
    assert.is(await proc.stop(), 0, log());
  }
  assert.ok(statSync(path).isSocket(), 'the socket file is systemd\'s: --vacuum does not remove it');
});

test('configured sockets systemd did not pass are bound as usual beside the passed one', async () => {
  const [passed, own] = [await pickPort(), await pickPort()];
  const { proc, log, waitFor } = await activate(['-l', `127.0.0.1:${passed}`], ['--master', '--http-socket', `127.0.0.1:${own}`, '--http-socket', `127.0.0.1:${passed}`, '--module', 'supervised']);
  try {
    assert.is((await httpGet({ port: passed })).status, 200, log());
    await waitFor(/all 1 workers ready/);
    assert.is((await httpGet({ port: own })).status, 200);
    assert.match(log(), new RegExp(`http socket 0 bound to 127\\.0\\.0\\.1:${own}`));
    assert.match(log(), new RegExp(`http socket 1 handed over by systemd to 127\\.0\\.0\\.1:${passed}`));
  } finally {
    assert.is(await proc.stop(), 0, log());
  }
});

test.run();
