/**
 * nginx → tsgi FastRouter → tsgi workers, the way the talk deploys it: nginx `uwsgi_pass`es to
 * the FastRouter, which routes by the Host header (nginx's HTTP_HOST) to the workers that
 * subscribed for it; a POST body and the response pass through unchanged, and an unknown
 * Host gets nginx's 502 (the router closed the connection without a word).
 */
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { eventually, sha1, statsNodes } from '../helpers/fastrouter.js';
import { nginxUwsgiParamsPath, startNginx, type Nginx } from '../helpers/peers.js';
import { pickPorts } from '../helpers/ports.js';
import { FIXTURE_APPS, httpGet, startTsgi, type Server } from '../helpers/tsgi.js';

const [httpPort, routerPort, subscriptionPort, statsPort, workersPort] = await pickPorts(5);
let nginx: Nginx;
let router: Server;
let workers: Server;

test.before(async () => {
  router = await startTsgi(['--fastrouter', `127.0.0.1:${routerPort}`, '--fastrouter-subscription-server', `127.0.0.1:${subscriptionPort}`, '--fastrouter-stats', `127.0.0.1:${statsPort}`], { cwd: FIXTURE_APPS });
  workers = await startTsgi(['--master', '--processes', '2', '--socket', `127.0.0.1:${workersPort}`, '--module', 'router-node', '--subscribe-to', `127.0.0.1:${subscriptionPort}:unbit.it`], {
    cwd: FIXTURE_APPS, env: { TSGI_TEST_NODE: 'workers' }, ready: /all 2 workers ready/,
  });
  await eventually('the workers subscribed', async () => (await statsNodes(statsPort, 'unbit.it')).length === 1);
  nginx = await startNginx({
    ports: [httpPort],
    http: `server {
      listen 127.0.0.1:${httpPort};
      client_max_body_size 8m;
      location / { include ${nginxUwsgiParamsPath()}; uwsgi_pass 127.0.0.1:${routerPort}; }
    }`,
  });
});
test.after(async () => {
  await nginx?.stop();
  await workers?.stop();
  await router?.stop();
});

test('nginx → FastRouter → workers: routed by Host, body and response unchanged', async () => {
  const get = await httpGet({ port: httpPort }, '/hello', { headers: { Host: 'unbit.it' } });
  assert.is(get.status, 200);
  assert.equal(JSON.parse(get.body).node, 'workers');
  assert.equal(JSON.parse(get.body).host, 'unbit.it');
  const body = randomBytes(3 << 20).toString('base64');
  const post = await httpGet({ port: httpPort }, '/upload', { method: 'POST', headers: { Host: 'unbit.it', 'Content-Type': 'text/plain' }, body });
  const answer = JSON.parse(post.body);
  assert.equal([answer.length, answer.sha1], [body.length, sha1(Buffer.from(body))]);
});

test('an unknown Host: the router closes, nginx answers 502, the router logs it once', async () => {
  const response = await httpGet({ port: httpPort }, '/', { headers: { Host: 'nobody.example' } });
  assert.is(response.status, 502);
  await router.waitFor(/no node for key "nobody\.example" \(subscription\): connection closed/);
});

test.run();
