/**
 * RPC over the uwsgi protocol between tsgi processes: local calls and tsgi → tsgi. The calls
 * and remote signals with a real uWSGI as the peer are in test/interop/rpc-uwsgi.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

const markers = tempDir();
const http = await pickPort();
const uwsgiSocket = await pickPort();
let tsgi: Server;

test.before(async () => {
  tsgi = await startTsgi(['--http-socket', `127.0.0.1:${http}`, '--socket', `127.0.0.1:${uwsgiSocket}`, '--module', 'rpc', '--master', '--processes', '2', '--async', '8'], {
    cwd: FIXTURE_APPS, env: { TSGI_TEST_MARKERS: markers }, ready: /all 2 workers ready/,
  });
});
test.after(async () => {
  await tsgi.stop();
});

const call = async (query: string) => (await httpGet({ port: http }, `/?${query}`)).body;

test('local calls: strings, Buffers, async functions, failures', async () => {
  assert.is(await call('name=hello&arg=a&arg=b'), 'hello from tsgi a,b');
  assert.is(await call('name=slow&arg=x'), 'slow x');
  assert.is(await call('name=empty'), 'NONE');
  assert.is(await call('name=missing'), 'NONE');
});

test('tsgi → tsgi over the uwsgi protocol, including a result over 64 KiB', async () => {
  const node = `127.0.0.1:${uwsgiSocket}`;
  assert.is(await call(`node=${node}&name=hello&arg=remote`), 'hello from tsgi remote');
  assert.is(await call(`node=${node}&name=big`), '100000 bytes of a');
  assert.is(await call(`node=${node}&name=missing`), 'NONE');
});

test.run();
