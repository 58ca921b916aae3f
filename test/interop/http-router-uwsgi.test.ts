/**
 * tsgi's HTTP router with a real uWSGI (Debian's uwsgi-core + python3 plugin) behind it — the
 * talk's `uwsgi --http :9090 --http-to /tmp/uwsgi.sock` with tsgi as the router — and the other
 * way round: real uWSGI's `--http` router in front of tsgi workers.
 */
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { get, header, withConn } from '../helpers/http-raw.js';
import { startUwsgi, uwsgiHttpPluginArgs, waitForPort } from '../helpers/peers.js';
import { pickPort } from '../helpers/ports.js';
import { FIXTURE_APPS, httpGet, startTsgi, tempDir } from '../helpers/tsgi.js';

test("the talk's `--http :9090 --http-to /tmp/uwsgi.sock`: tsgi routes to a real uWSGI on a unix socket", async () => {
  const socket = join(tempDir(), 'uwsgi.sock');
  const uwsgiHttp = await pickPort();
  const uwsgi = await startUwsgi(['--plugin', 'python3', '--master', '--processes', '1', '--socket', socket, '--http-socket', `127.0.0.1:${uwsgiHttp}`, '--wsgi-file', join(FIXTURE_APPS, 'router_peer.py')], { port: uwsgiHttp });
  const port = await pickPort();
  const router = await startTsgi(['--http', `127.0.0.1:${port}`, '--http-to', socket, '--http-keepalive'], { ready: /http router ready/ });
  try {
    const response = await httpGet({ port }, '/talk/x%41?q=1', { method: 'POST', headers: { 'X-Talk': 'going massive' }, body: 'twelve bytes' });
    assert.is(response.status, 200, response.body);
    const { vars, body } = JSON.parse(response.body) as { vars: Record<string, string>; body: number };
    assert.equal(vars, {
      REQUEST_METHOD: 'POST', PATH_INFO: '/talk/xA', REQUEST_URI: '/talk/x%41?q=1', QUERY_STRING: 'q=1', SERVER_PROTOCOL: 'HTTP/1.1',
      SERVER_PORT: String(port), UWSGI_ROUTER: 'http', REMOTE_ADDR: '127.0.0.1', HTTP_HOST: `localhost:${port}`, HTTP_X_TALK: 'going massive', CONTENT_LENGTH: '12',
    });
    assert.is(body, 12);
    // uWSGI frames its answer with the Content-Length the app gave: the client connection is kept.
    await withConn(async (conn) => {
      for (const path of ['/one', '/two']) {
        await conn.write(get(path));
        const answer = await conn.response();
        assert.is(answer.status, 200);
        assert.is(header(answer, 'connection'), undefined);
        assert.is((JSON.parse(answer.body.toString()) as { vars: Record<string, string> }).vars.PATH_INFO, path);
      }
    }, { port });
  } finally {
    await router.stop();
    await uwsgi.stop();
  }
});

test("real uWSGI's --http router in front of tsgi workers: the vars it builds reach the tsgi app", async () => {
  const socket = join(tempDir(), 'tsgi.sock');
  const tsgi = await startTsgi(['--socket', socket, '--chdir', FIXTURE_APPS, '--module', 'http-router-node', '-L']);
  const port = await pickPort();
  const uwsgi = await startUwsgi([...uwsgiHttpPluginArgs(), '--master', '--http', `127.0.0.1:${port}`, '--http-to', socket]);
  try {
    await waitForPort(port, uwsgi);
    const response = await httpGet({ port }, '/env/via-uwsgi?z=9');
    const env = Object.fromEntries(JSON.parse(response.body) as Array<[string, string]>);
    assert.is(env.PATH_INFO, '/env/via-uwsgi');
    assert.is(env.QUERY_STRING, 'z=9');
    assert.is(env.UWSGI_ROUTER, 'http');
    assert.is(env.SERVER_PORT, String(port));
  } finally {
    await uwsgi.stop();
    await tsgi.stop();
  }
});

test.run();
