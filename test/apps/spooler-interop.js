// The tsgi side of the spooler interop tests (test/integration/spooler-uwsgi.test.ts), the
// mirror of spooler_peer.py:
//  * POST / with JSON {"pairs": {key: value}, "body": base64?} queues that task with
//    uwsgi.spool() and answers the spool file's path.
//  * uwsgi.spooler records each task it runs as JSON in $TSGI_SPOOL_RESULTS/<task name>.json:
//    the pairs in file order, the JS types of the values, the body's length and sha256, and when
//    it ran; then answers SPOOL_OK.
import { createHash } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import uwsgi from 'tsgi';

const results = process.env.TSGI_SPOOL_RESULTS ?? '';

uwsgi.spooler = (task) => {
  const name = task.spooler_task_name;
  const { body } = task;
  const record = {
    task_name: name,
    pairs: Object.entries(task).filter(([key]) => key !== 'spooler_task_name' && key !== 'body'),
    types: Object.fromEntries(Object.entries(task).map(([key, value]) => [key, Buffer.isBuffer(value) ? 'Buffer' : typeof value])),
    body: body === undefined ? null : { length: body.length, sha256: createHash('sha256').update(body).digest('hex') },
    ran_at: Date.now() / 1000,
  };
  const temp = join(results, `.${name}`);
  writeFileSync(temp, JSON.stringify(record));
  renameSync(temp, join(results, `${name}.json`));
  return uwsgi.SPOOL_OK;
};

export async function application(env, start_response) {
  const request = JSON.parse((await env['tsgi.input']).toString());
  const task = { ...request.pairs };
  if (request.body !== undefined) task.body = Buffer.from(request.body, 'base64');
  const path = uwsgi.spool(task);
  start_response('200 OK', [['Content-Type', 'text/plain']]);
  return path;
}
