// The tsgi side of the spooler interop tests (test/integration/spooler-uwsgi.test.ts), the
// mirror of spooler_peer.py:
//  * POST / with JSON {"pairs": {key: value}, "body": base64?} queues that task with
//    uwsgi.spool() and answers the spool file's path.
//  * uwsgi.spooler records each task it runs as JSON in $TSGI_SPOOL_RESULTS: the pairs in file
//    order, the JS types of the values, the body's length and sha256, who ran it and when; then
//    answers SPOOL_OK. A task with sleep_ms=N first sleeps N ms (a green sleep). Every run leaves
//    its own file, <task name>.tsgi-<pid>-<run>.json, so that a task run twice shows up twice.
import { createHash } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import uwsgi from 'tsgi';

const results = process.env.TSGI_SPOOL_RESULTS ?? '';
let runs = 0;

uwsgi.spooler = function* (task) {
  const run = ++runs;
  const name = task.spooler_task_name;
  const { body } = task;
  const record = {
    task_name: name,
    pairs: Object.entries(task).filter(([key]) => key !== 'spooler_task_name' && key !== 'body'),
    types: Object.fromEntries(Object.entries(task).map(([key, value]) => [key, Buffer.isBuffer(value) ? 'Buffer' : typeof value])),
    body: body === undefined ? null : { length: body.length, sha256: createHash('sha256').update(body).digest('hex') },
    runner: 'tsgi',
    ran_at: Date.now() / 1000,
  };
  if (task.sleep_ms) yield uwsgi.async_sleep(Number(task.sleep_ms) / 1000);
  const recordName = `${name}.tsgi-${process.pid}-${run}.json`;
  const temp = join(results, `.${recordName}`);
  writeFileSync(temp, JSON.stringify(record));
  renameSync(temp, join(results, recordName));
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
