/**
 * `tsgi top` under a real tmux: the view comes up on the instance's stats socket, its figures
 * move with the load this test sends (requests, req/s, busy cores), `s` re-sorts, `q` quits
 * with status 0; and the command's errors (no address, nothing listening) carry their codes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pickPort } from '../helpers/ports.js';
import { FIXTURE_APPS, httpGet, MAIN, runTsgi, sleep, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';

const port = await pickPort();
const statsPort = await pickPort();
const dir = tempDir();
const tmuxSocket = join(dir, 'tmux.sock');
const exitFile = join(dir, 'top.exit');
let server: Server;

const tmux = (...args: string[]) => execFileSync('tmux', ['-S', tmuxSocket, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const pane = () => tmux('capture-pane', '-p', '-t', 'top');

test.before(async () => {
  server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'metrics', '--master', '--processes', '2', '--async', '4',
    '--stats', `127.0.0.1:${statsPort}`], { cwd: FIXTURE_APPS, ready: /all 2 workers ready/ });
  const command = `${process.execPath} ${MAIN} top 127.0.0.1:${statsPort}; echo $? > ${exitFile}`;
  tmux('new-session', '-d', '-s', 'top', '-x', '150', '-y', '30', command);
});
test.after(async () => {
  try {
    tmux('kill-server');
  } catch {
    // top quit, and tmux with it
  }
  await server.stop();
});

/** Captures the pane until `done` holds for it (top refreshes once a second). */
async function paneUntil(done: (text: string) => boolean, what: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = pane();
  while (!done(text)) {
    if (Date.now() > deadline) throw new Error(`the pane never showed ${what}:\n${text}`);
    await sleep(100);
    text = pane();
  }
  return text;
}

const figure = (text: string, pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? NaN);
const requestsShown = (text: string) => figure(text, /requests (\d+)/);
const rateShown = (text: string) => figure(text, /([\d.]+) req\/s/);
/** The worker rows: [WID, RPS] as shown, in the order shown. */
const rows = (text: string) => [...text.matchAll(/^ +(\d+) +(\d+) +(?:idle|busy) +\d+ +([\d.]+|-) /gm)].map((m) => [Number(m[1]), Number(m[3])]);

test('the view shows the instance, then its figures follow the load', async () => {
  const first = await paneUntil((text) => /WID +PID +STATUS/.test(text) && rows(text).length === 2, 'the two workers');
  assert.match(first, `tsgi top 127.0.0.1:${statsPort}`);
  assert.is(requestsShown(first), 0);
  let sending = true;
  const load = Promise.all(Array.from({ length: 3 }, async () => {
    while (sending) await httpGet({ port }, '/');
  }));
  try {
    const loaded = await paneUntil((text) => requestsShown(text) > 50 && rateShown(text) > 5, 'requests and a rate above 0');
    const later = await paneUntil((text) => requestsShown(text) > requestsShown(loaded), 'the count rising on the next refresh');
    assert.ok(requestsShown(later) > requestsShown(loaded));
    const shown = rows(later).map(([, rps]) => rps!);
    assert.equal(shown, [...shown].sort((a, b) => b - a), 'sorted by rps, the busiest first');
  } finally {
    sending = false;
    await load;
  }
  const slow = Array.from({ length: 3 }, () => httpGet({ port }, '/slow?s=2.5'));
  const busy = await paneUntil((text) => figure(text, /cores busy (\d+)\/8/) === 3, 'three busy cores of 8');
  assert.match(busy, /\bbusy\b/);
  await Promise.all(slow);
  await paneUntil((text) => figure(text, /cores busy (\d+)\/8/) === 0 && rateShown(text) === 0, 'the load gone: no busy core, 0 req/s');
});

test('s re-sorts the rows; q quits, giving the shell its screen back, with status 0', async () => {
  tmux('send-keys', '-t', 'top', 's');
  const sorted = await paneUntil((text) => text.includes('sorted by requests'), 'sorted by requests', 3000);
  const counts = [...sorted.matchAll(/^ +\d+ +\d+ +(?:idle|busy) +(\d+) /gm)].map((m) => Number(m[1]));
  assert.equal(counts, [...counts].sort((a, b) => b - a));
  tmux('send-keys', '-t', 'top', 'q');
  for (let i = 0; i < 50 && !existsSync(exitFile); i++) await sleep(100);
  assert.is(readFileSync(exitFile, 'utf8').trim(), '0');
});

test('tsgi top without an address, or with nothing listening there, fails with its code', async () => {
  const usage = await runTsgi(['top']);
  assert.is(usage.code, 1);
  assert.match(usage.output, /^TSGI_ERR_TOP_USAGE: /);
  const nothing = await runTsgi(['top', `127.0.0.1:${await pickPort()}`]);
  assert.is(nothing.code, 1);
  assert.match(nothing.output, /^TSGI_ERR_TOP_STATS: cannot read stats from 127\.0\.0\.1:\d+: ECONNREFUSED/);
});

test.run();
