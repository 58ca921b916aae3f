/**
 * The cache over the uwsgi protocol (modifier1 111, uWSGI's magic dict): tsgi ↔ tsgi, and a real
 * uWSGI (Debian's uwsgi-core with its cache plugin) in both directions.
 */
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startUwsgi, type Peer } from '../helpers/peers.js';
import { FIXTURE_APPS, httpGet, startTsgi, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

const http = await pickPort();
const socket = await pickPort();
const peerSocket = await pickPort();
const peerHttp = await pickPort();
let tsgi: Server;
let uwsgi: Peer;

test.before(async () => {
  tsgi = await startTsgi(['--http-socket', `127.0.0.1:${http}`, '--socket', `127.0.0.1:${socket}`, '--module', 'shared', '--cache', '100', '--async', '8', '--master', '--processes', '2'],
    { cwd: FIXTURE_APPS, ready: /all 2 workers ready/ });
  uwsgi = await startUwsgi(['--plugin', 'python3,cache', '--master', '--processes', '1', '--cache', '100', '--socket', `127.0.0.1:${peerSocket}`,
    '--http-socket', `127.0.0.1:${peerHttp}`, '--wsgi-file', join(FIXTURE_APPS, 'cache_peer.py')], { port: peerHttp });
});
test.after(async () => {
  await tsgi.stop();
  await uwsgi.stop();
});

const body = async (port: number, path: string) => (await httpGet({ port }, path)).body;

test('tsgi → tsgi: set, get and delete through the uwsgi socket', async () => {
  const cache = `default@127.0.0.1:${socket}`;
  assert.is(await body(http, `/rcache/set?k=remote-key&v=remote%20value&cache=${cache}`), 'true');
  assert.is(await body(http, '/cache/get?k=remote-key'), 'remote value', 'landed in the local cache');
  assert.is(await body(http, `/rcache/get?k=remote-key&cache=${cache}`), 'remote value');
  assert.is(await body(http, `/rcache/del?k=remote-key&cache=${cache}`), 'true');
  assert.is(await body(http, `/rcache/get?k=remote-key&cache=${cache}`), 'null');
});

test('tsgi → real uWSGI', async () => {
  assert.is(await body(http, `/rcache/set?k=to-uwsgi&v=from%20tsgi&cache=default@127.0.0.1:${peerSocket}`), 'true');
  assert.is(await body(peerHttp, '/?op=get&k=to-uwsgi'), 'from tsgi');
  assert.is(await body(peerHttp, '/?op=set&k=in-uwsgi&v=python'), 'true');
  assert.is(await body(http, `/rcache/get?k=in-uwsgi&cache=default@127.0.0.1:${peerSocket}`), 'python');
});

test('real uWSGI → tsgi', async () => {
  assert.is(await body(peerHttp, `/?op=set&k=to-tsgi&v=from%20uwsgi&cache=default@127.0.0.1:${socket}`), 'true');
  assert.is(await body(http, '/cache/get?k=to-tsgi'), 'from uwsgi');
  assert.is(await body(peerHttp, `/?op=get&k=to-tsgi&cache=default@127.0.0.1:${socket}`), 'from uwsgi');
});

test.run();
