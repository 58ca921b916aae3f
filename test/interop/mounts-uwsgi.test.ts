/**
 * Dispatch to many apps against a real uWSGI 2.0 (Debian's uwsgi-core + python3 plugin): the
 * same --mount / --manage-script-name / --vhost configuration in both, the same requests, and
 * the same status, SCRIPT_NAME, PATH_INFO and UWSGI_APPID from each (which app answered shows
 * in SCRIPT_NAME; a miss served by the default app shows as SCRIPT_NAME '').
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, startTsgi, type Server } from '../helpers/tsgi.js';
import { startUwsgi, type Peer } from '../helpers/peers.js';
import { pickPorts } from '../helpers/ports.js';

interface Seen { status: number; SCRIPT_NAME?: string | null; PATH_INFO?: string | null; UWSGI_APPID?: string | null }

async function seen(port: number, path: string, host?: string): Promise<Seen> {
  const reply = await httpGet({ port }, path, { headers: host ? { Host: host } : undefined });
  if (reply.status !== 200) return { status: reply.status };
  const { SCRIPT_NAME, PATH_INFO, UWSGI_APPID } = JSON.parse(reply.body) as Seen;
  return { status: 200, SCRIPT_NAME, PATH_INFO, UWSGI_APPID };
}

async function bothWith(args: string[], check: (tsgiPort: number, uwsgiPort: number) => Promise<void>): Promise<void> {
  const [tsgiPort, uwsgiPort] = await pickPorts(2);
  const mounts = (app: string) => args.map((arg) => arg.replace('APP', app));
  let tsgi: Server | undefined;
  let uwsgi: Peer | undefined;
  try {
    tsgi = await startTsgi(['--http-socket', `127.0.0.1:${tsgiPort}`, ...mounts('mount-other.js')], { cwd: FIXTURE_APPS });
    uwsgi = await startUwsgi(['--plugin', 'python3', '--http-socket', `127.0.0.1:${uwsgiPort}`, ...mounts('mount_peer.py')], { port: uwsgiPort, cwd: FIXTURE_APPS });
    await check(tsgiPort, uwsgiPort);
  } finally {
    await uwsgi?.stop();
    await tsgi?.stop();
  }
}

test('--manage-script-name: longest mountpoint, "/" boundaries, and the first "/" mount as default app, as uWSGI', async () => {
  await bothWith(['--manage-script-name', '--mount', '/app1=APP', '--mount', '/app1/deep=APP', '--mount', '/t/=APP'], async (tsgi, uwsgi) => {
    for (const path of ['/app1/deep/x', '/app1/deep', '/app1/deeper', '/app1', '/app1/', '/app1x/y', '/t/x', '/nowhere/x']) {
      assert.equal(await seen(tsgi, path), await seen(uwsgi, path), path);
    }
  });
});

test('--no-default-app: a miss is 500 in both', async () => {
  await bothWith(['--manage-script-name', '--no-default-app', '--mount', '/app1=APP'], async (tsgi, uwsgi) => {
    for (const path of ['/app1/x', '/nowhere/x']) assert.equal(await seen(tsgi, path), await seen(uwsgi, path), path);
    assert.is((await seen(tsgi, '/nowhere/x')).status, 500);
  });
});

test('--vhost: HOST|SCRIPT_NAME keys, UWSGI_APPID set to the key, unknown hosts 500, as uWSGI', async () => {
  await bothWith(['--vhost', '--mount', 'a.test|=APP', '--mount', 'b.test|/x=APP'], async (tsgi, uwsgi) => {
    for (const host of ['a.test', 'b.test', 'c.test']) assert.equal(await seen(tsgi, '/p', host), await seen(uwsgi, '/p', host), host);
    assert.is((await seen(tsgi, '/p', 'a.test')).UWSGI_APPID, 'a.test|');
  });
});

test.run();
