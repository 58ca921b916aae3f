/**
 * RPC and remote signals over the uwsgi protocol with a real uWSGI (Debian's uwsgi-core +
 * python3 plugin) as the peer in both directions. Local and tsgi → tsgi calls are in
 * test/integration/rpc.test.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startUwsgi, type Peer } from '../helpers/peers.js';
import { FIXTURE_APPS, httpGet, sleep, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

const markers = tempDir();
const http = await pickPort();
const uwsgiSocket = await pickPort();
const peerSocket = await pickPort();
const peerHttp = await pickPort();
let tsgi: Server;
let uwsgi: Peer;

test.before(async () => {
  tsgi = await startTsgi(['--http-socket', `127.0.0.1:${http}`, '--socket', `127.0.0.1:${uwsgiSocket}`, '--module', 'rpc', '--master', '--processes', '2', '--async', '8'], {
    cwd: FIXTURE_APPS, env: { TSGI_TEST_MARKERS: markers }, ready: /all 2 workers ready/,
  });
  uwsgi = await startUwsgi(['--plugin', 'python3,rpc', '--master', '--processes', '1', '--socket', `127.0.0.1:${peerSocket}`, '--http-socket', `127.0.0.1:${peerHttp}`, '--wsgi-file', join(FIXTURE_APPS, 'rpc_peer.py')], { port: peerHttp });
});
test.after(async () => {
  await tsgi.stop();
  await uwsgi.stop();
});

const call = async (query: string) => (await httpGet({ port: http }, `/?${query}`)).body;

test('tsgi → real uWSGI, and real uWSGI → tsgi', async () => {
  assert.is(await call(`node=127.0.0.1:${peerSocket}&name=pyhello&arg=from-tsgi`), 'hello from uwsgi from-tsgi');
  const fromPython = await httpGet({ port: peerHttp }, `/?node=127.0.0.1:${uwsgiSocket}&name=hello&arg=py`);
  assert.is(fromPython.body, 'hello from tsgi py');
});

test('remote signals: tsgi → tsgi and real uWSGI → tsgi (modifier1 110)', async () => {
  const log = join(markers, 'remote-signals.log');
  assert.is(await call(`signal=17&node=127.0.0.1:${uwsgiSocket}`), 'signalled');
  assert.is((await httpGet({ port: peerHttp }, `/?signal=17&node=127.0.0.1:${uwsgiSocket}`)).body, 'signalled');
  for (let i = 0; i < 100 && !(existsSync(log) && readFileSync(log, 'utf8').split('\n').filter(Boolean).length >= 2); i++) await sleep(20);
  assert.equal(readFileSync(log, 'utf8').split('\n').filter(Boolean), ['17', '17']);
});

test.run();
