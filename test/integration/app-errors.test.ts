/** App errors: a stack that repeats on every request is logged once, then counted once a second. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, startTsgi } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

test('an app that always throws: its stack once, then repeat counts, and a 500 for every request', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'always-throws', '--async', '8'], { cwd: FIXTURE_APPS });
  try {
    let sent = 0;
    const statuses = new Map<number, number>();
    const until = Date.now() + 2000;
    const client = async () => {
      while (Date.now() < until) {
        sent++;
        const { status } = await httpGet({ port, host: '127.0.0.1' });
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 8 }, client));
    assert.equal([...statuses], [[500, sent]], `every request got its 500; log:\n${server.log().slice(0, 4000)}`);
    assert.ok(sent > 50, `the hammer sent enough requests to repeat (${sent})`);
    await server.waitFor(/the same error \d+ more times? in the last 1 s; stack above/, 5000);
    const code = await server.stop();
    assert.is(code, 0);
    const log = server.log();
    const stacks = log.split('\n').filter((line) => line.includes('Error: this request fails on purpose'));
    assert.ok(stacks.length >= 1 && stacks.length <= 3, `the stack is logged once (or a few times), not ${stacks.length} times; log:\n${log.slice(0, 4000)}`);
    assert.match(stacks[0]!, /app error on GET \/: Error: this request fails on purpose \| at application /);
    const counted = [...log.matchAll(/app error on GET \/ \(the same error (\d+) more times? in the last 1 s; stack above\)/g)]
      .reduce((sum, match) => sum + Number(match[1]), 0);
    assert.is(counted + stacks.length, sent, `the repeat counts add up to every request (${sent}); log:\n${log.slice(0, 4000)}`);
    const errorBytes = log.split('\n').filter((line) => line.includes('app error')).join('\n').length;
    assert.ok(errorBytes < 20_000, `the app-error lines stay small (${errorBytes} bytes for ${sent} errors)`);
  } finally {
    await server.stop('SIGKILL');
  }
});

test.run();
