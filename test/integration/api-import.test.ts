/**
 * `import uwsgi from 'tsgi'` from anywhere: an app folder without node_modules (ESM and
 * CommonJS), and an app whose project installs its own copy of tsgi (still one api instance).
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import uwsgi from '../../api/mod.js';
import { httpGet, ROOT, startTsgi, tempDir } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

const ESM_APP = `import uwsgi from 'tsgi';
export function application(env, start_response) {
  start_response('200 OK', [['Content-Type', 'application/json']]);
  return JSON.stringify({
    worker: uwsgi.worker_id(),
    same: uwsgi === globalThis[Symbol.for('tsgi.api')],
    resolved: import.meta.resolve('tsgi'),
  });
}
`;

async function serve(dir: string, module: string): Promise<Record<string, unknown>> {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', module], { cwd: dir });
  try {
    return JSON.parse((await httpGet({ port }, '/')).body) as Record<string, unknown>;
  } finally {
    await server.stop();
  }
}

test('an ESM app in a folder without node_modules imports tsgi', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'app.mjs'), ESM_APP);
  const result = await serve(dir, 'app');
  assert.is(result.worker, 1);
  assert.is(result.same, true);
  assert.match(String(result.resolved), /\/dist\/api\/mod\.js$/);
});

test('a CommonJS app requires tsgi', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'app.cjs'), `const uwsgi = require('tsgi').default;
module.exports.application = (env, start_response) => {
  start_response('200 OK', [['Content-Type', 'application/json']]);
  return JSON.stringify({ worker: uwsgi.worker_id(), same: uwsgi === globalThis[Symbol.for('tsgi.api')] });
};
`);
  const result = await serve(dir, 'app');
  assert.equal(result, { worker: 1, same: true });
});

test("an app whose project installs its own tsgi gets that module, sharing the worker's api instance", async () => {
  const dir = tempDir();
  const copy = join(dir, 'node_modules', 'tsgi');
  mkdirSync(copy, { recursive: true });
  for (const part of ['package.json', 'dist', 'build']) cpSync(join(ROOT, part), join(copy, part), { recursive: true });
  writeFileSync(join(dir, 'app.mjs'), ESM_APP);
  const result = await serve(dir, 'app');
  assert.match(String(result.resolved), /node_modules\/tsgi\/dist\/api\/mod\.js$/, 'resolved to the project copy');
  assert.is(result.same, true, 'one api instance per process');
  assert.is(result.worker, 1, 'the copy reaches the running worker');
});

test('outside a worker, api calls throw an error that says so', () => {
  try {
    uwsgi.worker_id();
    assert.unreachable('worker_id() should throw outside a worker');
  } catch (error) {
    assert.is((error as { code: string }).code, 'TSGI_ERR_API_OUTSIDE_WORKER');
    assert.match((error as Error).message, /only available inside a tsgi worker/);
  }
});

test.run();
