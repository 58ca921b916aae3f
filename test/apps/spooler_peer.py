# A real uWSGI app for the spooler interop tests (test/integration/spooler-uwsgi.test.ts).
#  * POST / with JSON {"pairs": {key: value}, "body": base64?} queues that task with uwsgi.spool()
#    (keys and values UTF-8 encoded, body under b'body', as uWSGI's python3 API wants bytes)
#    and answers the spool file's path.
#  * uwsgi.spooler records each task it runs as JSON in $SPOOLER_RESULTS: the
#    pairs in file order, the Python types of every key and value, the body's length and sha256,
#    who ran it and when; then answers SPOOL_OK. A task with sleep_ms=N first sleeps N ms.
#    Every run leaves its own file, <task name>.uwsgi-<pid>-<run>.json, so that a task run twice
#    shows up twice.
import base64
import hashlib
import json
import os
import time

import uwsgi

RESULTS = os.environ.get('SPOOLER_RESULTS', '')
runs = 0


def text(item):
    return item.decode('utf-8', 'backslashreplace') if isinstance(item, bytes) else item


def spooler(task):
    global runs
    runs += 1
    name = text(task.get('spooler_task_name', task.get(b'spooler_task_name')))
    body = task.get('body', task.get(b'body'))
    record = {
        'task_name': name,
        'pairs': [[text(k), text(v)] for k, v in task.items() if text(k) not in ('spooler_task_name', 'body')],
        'types': {text(k): [type(k).__name__, type(v).__name__] for k, v in task.items()},
        'body': None if body is None else {'length': len(body), 'sha256': hashlib.sha256(body).hexdigest()},
        'runner': 'uwsgi',
        'ran_at': time.time(),
    }
    sleep_ms = task.get(b'sleep_ms')
    if sleep_ms:
        time.sleep(int(sleep_ms) / 1000)
    record_name = '%s.uwsgi-%d-%d.json' % (name, os.getpid(), runs)
    temp = os.path.join(RESULTS, '.' + record_name)
    with open(temp, 'w') as out:
        json.dump(record, out)
    os.rename(temp, os.path.join(RESULTS, record_name))
    return uwsgi.SPOOL_OK


uwsgi.spooler = spooler


def application(env, start_response):
    request = json.loads(env['wsgi.input'].read())
    task = {key.encode(): value.encode() for key, value in request['pairs'].items()}
    if 'body' in request:
        task[b'body'] = base64.b64decode(request['body'])
    path = uwsgi.spool(task)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [path if isinstance(path, bytes) else path.encode()]
