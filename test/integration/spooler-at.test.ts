/**
 * `at` is kept to the second, not to the scan: a spooler sleeps until the earliest pending
 * `at` when that comes before its next scan (uWSGI would wait for `--spooler-frequency`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, sleep, startTsgi, tempDir } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

test('with --spooler-frequency 30, a task with at = now+2 s runs within a second of its time', async () => {
  const port = await pickPort();
  const markers = tempDir();
  const server = await startTsgi([
    '--http-socket', `127.0.0.1:${port}`, '--wsgi-file', join(FIXTURE_APPS, 'spooler.js'),
    '--spooler', join(tempDir(), 'queue'), '--spooler-frequency', '30',
  ], { env: { TSGI_TEST_MARKERS: markers }, ready: /spooler ready[\s\S]*all 1 workers ready|all 1 workers ready[\s\S]*spooler ready/ });
  try {
    const spooledAt = Date.now();
    const at = Math.ceil(spooledAt / 1000) + 2; // whole seconds, as uWSGI stores it (2 to 3 s away)
    const tasks = encodeURIComponent(JSON.stringify([{ id: 'soon', mode: 'ok', at }]));
    const response = await httpGet({ port }, `/spool?tasks=${tasks}`);
    assert.is(response.status, 200, response.body);
    const ran = () => existsSync(join(markers, 'runs.log')) && readFileSync(join(markers, 'runs.log'), 'utf8').includes('soon run-ok');
    while (!ran() && Date.now() < spooledAt + 8000) await sleep(20);
    const ranAt = Date.now();
    assert.ok(ran(), `the task ran before the next scan (30 s); log:\n${server.log()}`);
    assert.ok(ranAt >= at * 1000 - 50, `not before its time (${ranAt - at * 1000} ms early)`);
    assert.ok(ranAt < spooledAt + 5000, `within ~1 s after its time, well before the next scan (${ranAt - at * 1000} ms late)`);
  } finally {
    await server.stop();
  }
});

test.run();
