/**
 * Apps chosen by the web server, through a real nginx (uwsgi_pass): `uwsgi_param UWSGI_SCRIPT`
 * loads an app on its first request at the request's SCRIPT_NAME (uWSGI's dynamic apps), once
 * however many requests arrive together; `uwsgi_param UWSGI_APPID` picks a mounted app.
 * --no-default-app: /static would otherwise be the default app and serve every miss.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, startTsgi, type Server } from '../helpers/tsgi.js';
import { nginxUwsgiParamsPath, startNginx, type Nginx } from '../helpers/peers.js';
import { pickPorts } from '../helpers/ports.js';

const [front, back] = await pickPorts(2);
let server: Server;
let nginx: Nginx;

function location(path: string, params: Record<string, string>): string {
  const lines = Object.entries(params).map(([name, value]) => `            uwsgi_param ${name} ${value};`).join('\n');
  return `        location ${path} {\n            include ${nginxUwsgiParamsPath()};\n${lines}\n            uwsgi_pass 127.0.0.1:${back};\n        }`;
}

test.before(async () => {
  server = await startTsgi(['--socket', `127.0.0.1:${back}`, '--master', '--processes', '1', '--async', '4', '--mount', '/static=mount-clash.js', '--no-default-app'], { cwd: FIXTURE_APPS });
  nginx = await startNginx({
    ports: [front],
    http: `    server {\n        listen 127.0.0.1:${front};\n${[
      location('/dyn', { SCRIPT_NAME: '/dyn', UWSGI_SCRIPT: 'mount-other' }),
      location('/many', { SCRIPT_NAME: '/many', UWSGI_SCRIPT: 'mount-clash' }),
      location('/missing', { SCRIPT_NAME: '/missing', UWSGI_SCRIPT: 'no-such-module' }),
      location('/byid', { UWSGI_APPID: '/static' }),
      location('/', {}),
    ].join('\n')}\n    }`,
  });
});
test.after(async () => {
  await nginx?.stop();
  await server?.stop();
});

test('uwsgi_param UWSGI_SCRIPT loads the app on first use, mounted at SCRIPT_NAME', async () => {
  const first = await httpGet({ port: front }, '/dyn/x');
  assert.is(first.status, 200, first.body);
  assert.equal(JSON.parse(first.body), { instance: '?tsgi-app=1', SCRIPT_NAME: '/dyn', PATH_INFO: '/dyn/x', UWSGI_APPID: null });
  await server.waitFor(/app 1 \(mountpoint='\/dyn'\) ready in \d+ ms: mount-other:application/);
  assert.is(JSON.parse((await httpGet({ port: front }, '/dyn/y')).body).instance, '?tsgi-app=1', 'the second request finds it loaded');
  assert.is(server.log().match(/mountpoint='\/dyn'/g)!.length, 1, 'loaded once');
});

test('requests arriving together while the app loads share one load', async () => {
  const replies = await Promise.all([1, 2, 3].map(() => httpGet({ port: front }, '/many/z')));
  assert.equal(replies.map((reply) => reply.status), [200, 200, 200]);
  assert.equal(replies.map((reply) => JSON.parse(reply.body).requests).sort(), [1, 2, 3], 'one module instance served all three');
  await server.waitFor(/app 2 \(mountpoint='\/many'\) ready/);
  assert.is(server.log().match(/mountpoint='\/many'/g)!.length, 1, 'loaded once');
});

test('uwsgi_param UWSGI_APPID picks the mounted app; no key with --no-default-app is 500', async () => {
  const before = JSON.parse((await httpGet({ port: front }, '/byid/a')).body).requests as number;
  assert.is(JSON.parse((await httpGet({ port: front }, '/byid/b')).body).requests, before + 1, 'the app mounted at /static');
  assert.is((await httpGet({ port: front }, '/other')).status, 500);
  await server.waitFor(/--- no app found for '' \(GET \/other\)/);
});

test('a UWSGI_SCRIPT that cannot load is logged and answered 500; the worker keeps serving', async () => {
  const reply = await httpGet({ port: front }, '/missing/x');
  assert.is(reply.status, 500);
  await server.waitFor(/loading the app for mountpoint '\/missing' \(no-such-module\) failed: Error: cannot find module "no-such-module"/);
  assert.is((await httpGet({ port: front }, '/dyn/again')).status, 200);
});

test.run();
