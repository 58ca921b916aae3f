// Mounted twice (/a and /b) by test/integration/mounts-isolation.test.ts: the same file, so
// the same globals and the same signal number; each mount must see only its own.
import uwsgi from 'tsgi';
import { bump } from './mount-lib.js';

let requests = 0;
let signalled = 0;
const name = process.env.TSGI_TEST_NAME ?? 'clash';
uwsgi.register_signal(17, 'workers', () => {
  signalled++;
});

export function application(env, startResponse) {
  requests++;
  if (env.PATH_INFO === '/throw') throw new Error(`${name} threw on purpose`);
  if (env.PATH_INFO === '/raise') uwsgi.signal(17);
  startResponse('200 OK', [['Content-Type', 'application/json']]);
  return JSON.stringify({
    requests, lib: bump(), signalled, SCRIPT_NAME: env.SCRIPT_NAME, PATH_INFO: env.PATH_INFO,
    UWSGI_APPID: env.UWSGI_APPID ?? null, apps: uwsgi.apps(),
  });
}
