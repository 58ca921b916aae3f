/**
 * Subscriptions and the FastRouter byte-compatible with a real uWSGI (Debian's uwsgi-core with
 * its python3 and fastrouter plugins), both ways, with nginx in front:
 *   nginx → tsgi FastRouter ← a real uWSGI's --subscribe-to (and its unsubscribe at exit);
 *   nginx → a real uWSGI --fastrouter … --fastrouter-subscription-server ← tsgi's --subscribe-to.
 */
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { eventually, statsNodes } from '../helpers/fastrouter.js';
import { nginxUwsgiParamsPath, startNginx, startUwsgi, type Nginx, type Peer } from '../helpers/peers.js';
import { pickPorts } from '../helpers/ports.js';
import { FIXTURE_APPS, httpGet, startTsgi, type Server } from '../helpers/tsgi.js';

const [httpPort, tsgiRouter, tsgiSubscriptions, tsgiStats, uwsgiRouter, uwsgiSubscriptions, uwsgiStats, uwsgiNode, tsgiNode] = await pickPorts(9);
const cleanups: Array<() => Promise<unknown>> = [];
let nginx: Nginx;

test.before(async () => {
  nginx = await startNginx({
    ports: [httpPort],
    http: `server {
      listen 127.0.0.1:${httpPort};
      location /via-tsgi/ { include ${nginxUwsgiParamsPath()}; uwsgi_pass 127.0.0.1:${tsgiRouter}; }
      location /via-uwsgi/ { include ${nginxUwsgiParamsPath()}; uwsgi_pass 127.0.0.1:${uwsgiRouter}; }
    }`,
  });
  cleanups.push(() => nginx.stop());
});
test.after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const through = async (path: string) => {
  const response = await httpGet({ port: httpPort }, path, { headers: { Host: 'unbit.it' } });
  return { status: response.status, node: response.status === 200 ? (JSON.parse(response.body) as { node: string }).node : '' };
};

test('a real uWSGI --subscribe-to tsgi\'s FastRouter, and nginx reaches it through the router', async () => {
  const router: Server = await startTsgi(['--fastrouter', `127.0.0.1:${tsgiRouter}`, '--fastrouter-subscription-server', `127.0.0.1:${tsgiSubscriptions}`, '--fastrouter-stats', `127.0.0.1:${tsgiStats}`], { cwd: FIXTURE_APPS });
  cleanups.push(() => router.stop());
  const uwsgi: Peer = await startUwsgi(['--plugin', 'python3', '--master', '--processes', '1', '--socket', `127.0.0.1:${uwsgiNode}`, '--wsgi-file', join(FIXTURE_APPS, 'router_node.py'),
    '--env', 'TSGI_TEST_NODE=uwsgi', '--subscribe-to', `127.0.0.1:${tsgiSubscriptions}:unbit.it`, '--subscribe-freq', '1'], { port: uwsgiNode });
  cleanups.push(() => uwsgi.stop());
  await eventually('uWSGI subscribed to tsgi', async () => (await statsNodes(tsgiStats, 'unbit.it')).length === 1);
  await router.waitFor(new RegExp(`unbit\\.it => new node: 127\\.0\\.0\\.1:${uwsgiNode}`));
  assert.equal(await through('/via-tsgi/a'), { status: 200, node: 'uwsgi' });
  await uwsgi.stop();
  await router.waitFor(new RegExp(`unbit\\.it => 127\\.0\\.0\\.1:${uwsgiNode} unsubscribed`), 15_000);
  assert.is((await through('/via-tsgi/b')).status, 502, 'gone from the router once it unsubscribed');
});

test('tsgi --subscribe-to a real uWSGI FastRouter, and nginx reaches tsgi through it', async () => {
  const router: Peer = await startUwsgi(['--plugin', 'fastrouter', '--master', '--fastrouter', `127.0.0.1:${uwsgiRouter}`, '--fastrouter-subscription-server', `127.0.0.1:${uwsgiSubscriptions}`, '--fastrouter-stats', `127.0.0.1:${uwsgiStats}`], { port: uwsgiRouter });
  cleanups.push(() => router.stop());
  const node: Server = await startTsgi(['--master', '--socket', `127.0.0.1:${tsgiNode}`, '--module', 'router-node', '--subscribe-to', `127.0.0.1:${uwsgiSubscriptions}:unbit.it`, '--subscribe-freq', '1', '--weight', '2'], {
    cwd: FIXTURE_APPS, env: { TSGI_TEST_NODE: 'tsgi' }, ready: /all 1 workers ready/,
  });
  cleanups.push(() => node.stop());
  await eventually('tsgi subscribed to uWSGI', async () => (await statsNodes(uwsgiStats, 'unbit.it')).length === 1);
  const [seen] = await statsNodes(uwsgiStats, 'unbit.it');
  assert.equal([seen!.name, seen!.weight], [`127.0.0.1:${tsgiNode}`, 2], 'uWSGI parsed the address and the weight');
  assert.equal(await through('/via-uwsgi/a'), { status: 200, node: 'tsgi' });
  await node.stop();
  await eventually('uWSGI dropped tsgi after its unsubscribe', async () => {
    const nodes = await statsNodes(uwsgiStats, 'unbit.it');
    return nodes.length === 0 || nodes.every((n) => n.death_mark === 1);
  });
  assert.is((await through('/via-uwsgi/b')).status, 502);
});

test.run();
