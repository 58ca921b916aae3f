/**
 * Dispatch by mountpoint as uWSGI's `uwsgi_get_app_id` does: --manage-script-name splits at
 * the longest mountpoint, an unknown one falls back to the default app (mounted at "") or gets
 * 500, --vhost picks by Host, and the stats server counts each app's requests and exceptions.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, readStats, sleep, startTsgi, type Server } from '../helpers/tsgi.js';
import { pickPorts } from '../helpers/ports.js';

const [port, statsPort, bare, vhost] = await pickPorts(4);
let server: Server;

interface Reply {
  instance: string;
  SCRIPT_NAME: string;
  PATH_INFO: string;
  UWSGI_APPID: string | null;
}

async function get(at: number, path: string, headers?: Record<string, string>): Promise<Reply> {
  const reply = await httpGet({ port: at }, path, { headers });
  assert.is(reply.status, 200, `${path}: ${reply.body}`);
  return JSON.parse(reply.body) as Reply;
}

test.before(async () => {
  server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--stats', `127.0.0.1:${statsPort}`, '--master', '--processes', '1',
    '--manage-script-name', '--module', 'mount-other', '--mount', '/app1=mount-other.js', '--mount', '/app1/deep=mount-other.js',
    '--mount', '/t/=mount-other.js', '--mount', '/c=mount-clash.js'], { cwd: FIXTURE_APPS });
});
test.after(async () => {
  await server.stop();
});

test('the longest matching mountpoint wins and SCRIPT_NAME/PATH_INFO are split there', async () => {
  assert.equal(await get(port, '/app1/deep/x'), { instance: '?tsgi-app=2', SCRIPT_NAME: '/app1/deep', PATH_INFO: '/x', UWSGI_APPID: null });
  assert.equal(await get(port, '/app1/deeper'), { instance: '?tsgi-app=1', SCRIPT_NAME: '/app1', PATH_INFO: '/deeper', UWSGI_APPID: null }, 'a prefix only at a / boundary');
  assert.equal(await get(port, '/app1'), { instance: '?tsgi-app=1', SCRIPT_NAME: '/app1', PATH_INFO: '', UWSGI_APPID: null });
  // uWSGI compares "/t" but sets SCRIPT_NAME to the whole mountpoint and cuts PATH_INFO after it.
  assert.equal(await get(port, '/t/x'), { instance: '?tsgi-app=3', SCRIPT_NAME: '/t/', PATH_INFO: 'x', UWSGI_APPID: null });
});

test('an unknown mountpoint falls back to the default app (the --module app, mounted at "")', async () => {
  assert.equal(await get(port, '/nowhere/x'), { instance: '', SCRIPT_NAME: '', PATH_INFO: '/nowhere/x', UWSGI_APPID: null });
});

test("the stats apps list of each worker counts each app's requests and exceptions", async () => {
  const before = await readStats(statsPort);
  const appsOf = (doc: Record<string, unknown>) => (doc.workers as Array<{ apps: Array<Record<string, unknown>> }>)[0]!.apps;
  const count = (doc: Record<string, unknown>, mountpoint: string, key: string) => appsOf(doc).find((app) => app.mountpoint === mountpoint)![key] as number;
  for (let i = 0; i < 5; i++) await get(port, '/app1/x');
  for (let i = 0; i < 2; i++) await get(port, '/app1/deep/');
  for (let i = 0; i < 3; i++) assert.is((await httpGet({ port }, '/c/throw')).status, 500);
  // A request is counted once its response is out: give the last one a moment.
  let after = await readStats(statsPort);
  for (const end = Date.now() + 3000; Date.now() < end && count(after, '/c', 'requests') - count(before, '/c', 'requests') < 3; await sleep(20)) after = await readStats(statsPort);
  assert.is(count(after, '/app1', 'requests') - count(before, '/app1', 'requests'), 5);
  assert.is(count(after, '/app1/deep', 'requests') - count(before, '/app1/deep', 'requests'), 2);
  assert.is(count(after, '/c', 'requests') - count(before, '/c', 'requests'), 3);
  assert.is(count(after, '/c', 'exceptions') - count(before, '/c', 'exceptions'), 3);
  assert.is(count(after, '/app1', 'exceptions'), 0);
  assert.equal(appsOf(after).map((app) => [app.id, app.mountpoint]), [[0, ''], [1, '/app1'], [2, '/app1/deep'], [3, '/t/'], [4, '/c']]);
  assert.equal(Object.keys(appsOf(after)[0]!), ['id', 'modifier1', 'mountpoint', 'startup_time', 'requests', 'exceptions', 'chdir'], "uWSGI's app keys, in its order");
});

test('the first mount at a "/" path is the default app (as uWSGI); with --no-default-app an unknown mountpoint gets 500 and the "no app" line', async () => {
  for (const [extra, status] of [[[], 200], [['--no-default-app'], 500]] as const) {
    const other = await startTsgi(['--http-socket', `127.0.0.1:${bare}`, '--manage-script-name', '--mount', '/app1=mount-other.js', '--mount', '/app2=mount-other.js', ...extra], { cwd: FIXTURE_APPS });
    try {
      const reply = await httpGet({ port: bare }, '/elsewhere');
      assert.is(reply.status, status, `${extra.join(' ')}: ${reply.body}`);
      if (status === 200) assert.equal(JSON.parse(reply.body), { instance: '', SCRIPT_NAME: '', PATH_INFO: '/elsewhere', UWSGI_APPID: null }, 'app 0, /app1');
      else {
        assert.is(reply.body, 'Internal Server Error');
        await other.waitFor(/--- no app found for '' \(GET \/elsewhere\)/);
      }
      assert.is((await get(bare, '/app2/y')).instance, '?tsgi-app=1', 'a known mountpoint still serves');
    } finally {
      await other.stop();
    }
  }
});

test('--vhost picks the app by Host (HOST|SCRIPT_NAME), and sets UWSGI_APPID to that key', async () => {
  const other = await startTsgi(['--http-socket', `127.0.0.1:${vhost}`, '--vhost', '--mount', 'a.test=mount-other.js', '--mount', 'b.test=mount-other.js'], { cwd: FIXTURE_APPS });
  try {
    assert.equal(await get(vhost, '/p', { Host: 'a.test' }), { instance: '', SCRIPT_NAME: '', PATH_INFO: '/p', UWSGI_APPID: 'a.test|' });
    assert.equal(await get(vhost, '/p', { Host: 'b.test' }), { instance: '?tsgi-app=1', SCRIPT_NAME: '', PATH_INFO: '/p', UWSGI_APPID: 'b.test|' });
    assert.is((await httpGet({ port: vhost }, '/p', { headers: { Host: 'c.test' } })).status, 500, 'an unknown host, no default app');
  } finally {
    await other.stop();
  }
});

test('--vhost: an unknown host falls back to the default app (the --module one at ""), unless --no-default-app', async () => {
  for (const [extra, status] of [[[], 200], [['--no-default-app'], 500]] as const) {
    const other = await startTsgi(['--http-socket', `127.0.0.1:${vhost}`, '--vhost', '--module', 'mount-other', '--mount', 'a.test=mount-other.js', ...extra], { cwd: FIXTURE_APPS });
    try {
      const reply = await httpGet({ port: vhost }, '/q', { headers: { Host: 'c.test' } });
      assert.is(reply.status, status, `${extra.join(' ')}: ${reply.body}`);
      if (status === 200) assert.is((JSON.parse(reply.body) as Reply).instance, '', 'app 0, the default');
      assert.is((await get(vhost, '/q', { Host: 'a.test' })).instance, '?tsgi-app=1', 'a known host still gets its app');
    } finally {
      await other.stop();
    }
  }
});

test.run();
