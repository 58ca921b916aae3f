/**
 * Many apps in one instance, each its own module instance: the same file mounted twice keeps
 * two sets of globals, a module both import is two copies, and a signal number both register
 * runs each app's own handler. Real tsgi master + worker, over HTTP.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, sleep, startTsgi, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

const port = await pickPort();
let server: Server;

interface ClashReply {
  requests: number;
  lib: number;
  signalled: number;
  SCRIPT_NAME: string;
  PATH_INFO: string;
}

async function get(path: string): Promise<ClashReply> {
  const reply = await httpGet({ port }, path);
  assert.is(reply.status, 200, `${path}: ${reply.body}`);
  return JSON.parse(reply.body) as ClashReply;
}

test.before(async () => {
  server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--master', '--processes', '1', '--manage-script-name',
    '--mount', '/a=mount-clash.js', '--mount', '/b=mount-clash.js'], { cwd: FIXTURE_APPS });
});
test.after(async () => {
  await server.stop();
});

test('two mounted apps with clashing globals each see their own', async () => {
  for (let i = 1; i <= 3; i++) assert.is((await get('/a/x')).requests, i, 'app /a counts its own requests');
  const b = await get('/b/x');
  assert.is(b.requests, 1, 'app /b, the same file, has a fresh top-level state: 3 requests to /a are not its');
  assert.is(b.lib, 1, 'the module both import (mount-lib.js) is a copy of its own in /b');
  assert.is((await get('/a/x')).lib, 4, "and /a's copy kept counting");
  assert.match(server.log(), /app 0 \(mountpoint='\/a'\) ready/);
  assert.match(server.log(), /app 1 \(mountpoint='\/b'\) ready/);
});

test("the same signal number registered by two apps runs each app's own handler", async () => {
  const before = { a: (await get('/a/')).signalled, b: (await get('/b/')).signalled };
  assert.is((await get('/b/raise')).PATH_INFO, '/raise');
  let after = before;
  for (const end = Date.now() + 5000; Date.now() < end; await sleep(25)) {
    after = { a: (await get('/a/')).signalled, b: (await get('/b/')).signalled };
    if (after.a > before.a && after.b > before.b) break;
  }
  assert.is(after.a, before.a + 1, "signal 17 ran /a's handler once (not replaced by /b's registration)");
  assert.is(after.b, before.b + 1, "and /b's handler once, each counting in its own module");
});

test('a graceful reload (SIGHUP) loads every mount again in the new worker, with no failed request', async () => {
  const loadsBefore = server.log().match(/app 1 \(mountpoint='\/b'\) ready/g)!.length;
  const oldState = (await get('/b/x')).requests;
  const statuses: number[] = [];
  let sentToB = 0;
  let reloaded = false;
  const traffic = (async () => {
    while (!reloaded) {
      statuses.push((await httpGet({ port }, '/a/x')).status);
      statuses.push((await httpGet({ port }, '/b/x')).status);
      sentToB++;
    }
  })();
  process.kill(server.pid, 'SIGHUP');
  try {
    await server.waitFor(/generation 0 retired/, 20_000);
  } finally {
    reloaded = true;
    await traffic;
  }
  assert.ok(server.log().match(/app 1 \(mountpoint='\/b'\) ready/g)!.length > loadsBefore, 'the new worker loaded /b again');
  assert.ok(statuses.length > 0 && statuses.every((status) => status === 200), `every request during the reload answered 200 (${statuses.length} sent)`);
  const fresh = (await get('/b/x')).requests;
  assert.ok(fresh <= sentToB + 1, `the new worker's /b counts from its own fresh state (${fresh}; the old one had ${oldState} + up to ${sentToB})`);
});

test.run();
