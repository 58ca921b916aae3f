# The uWSGI side of test/interop/mounts-uwsgi.test.ts: what mount-other.js answers, minus the
# module instance (uWSGI gives each mount an interpreter of its own instead).
import json


def application(env, start_response):
    start_response('200 OK', [('Content-Type', 'application/json')])
    body = {'SCRIPT_NAME': env.get('SCRIPT_NAME'), 'PATH_INFO': env.get('PATH_INFO'), 'UWSGI_APPID': env.get('UWSGI_APPID')}
    return [json.dumps(body).encode()]
