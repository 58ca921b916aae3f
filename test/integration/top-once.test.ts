/**
 * `tsgi top --once` as scripts use it: one frame after two reads a second apart, from a stats
 * server under --stats-http (by URL, and by its bare address, when top asks after a moment of
 * silence) and from a plain one; the figures are the instance's, rates included.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pickPort } from '../helpers/ports.js';
import { FIXTURE_APPS, httpGet, runTsgi, startTsgi, type Server } from '../helpers/tsgi.js';

const port = await pickPort();
const statsPort = await pickPort();
let server: Server;

test.before(async () => {
  server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'metrics', '--master', '--processes', '2', '--async', '3',
    '--stats', `127.0.0.1:${statsPort}`, '--stats-http'], { cwd: FIXTURE_APPS, ready: /all 2 workers ready/ });
  for (let i = 0; i < 7; i++) await httpGet({ port }, '/');
});
test.after(async () => {
  await server.stop();
});

for (const address of [`http://127.0.0.1:${statsPort}/`, `127.0.0.1:${statsPort}`]) {
  test(`--once on ${address}: the totals, a row per worker, sorted by requests when asked`, async () => {
    const started = Date.now();
    const { code, output } = await runTsgi(['top', address, '--once', '--sort', 'requests']);
    assert.is(code, 0, output);
    assert.ok(Date.now() - started >= 1000, 'two reads a second apart');
    assert.match(output, `tsgi top ${address}`);
    assert.match(output, /workers 2\/2 running +cores busy 0\/6 +requests 7 +0\.0 req\/s/);
    const rows = [...output.matchAll(/^ +(\d+) +\d+ +idle +(\d+) +0\.0 /gm)].map((m) => [Number(m[1]), Number(m[2])]);
    assert.is(rows.length, 2);
    assert.is(rows[0]![1]! + rows[1]![1]!, 7);
    assert.ok(rows[0]![1]! >= rows[1]![1]!, 'the worker with more requests first');
  });
}

test('a bad --sort is a usage error, and a socket that is not a stats server is named', async () => {
  const sort = await runTsgi(['top', `127.0.0.1:${statsPort}`, '--sort', 'cpu']);
  assert.is(sort.code, 1);
  assert.match(sort.output, /^TSGI_ERR_TOP_USAGE: .*sort by rps, requests, rss, id/);
  const notStats = await runTsgi(['top', `127.0.0.1:${port}`, '--once']);
  assert.is(notStats.code, 1);
  assert.match(notStats.output, /^TSGI_ERR_TOP_STATS: 127\.0\.0\.1:\d+ did not answer with stats JSON/);
});

test.run();
