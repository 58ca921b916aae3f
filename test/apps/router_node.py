# Test fixture for the routers, run by a real uWSGI: the Python twin of router-node.js (which
# node answered, the Host it saw, the body's length and sha1).
import hashlib
import json
import os


def application(env, start_response):
    body = env['wsgi.input'].read()
    payload = json.dumps({
        'node': os.environ.get('TSGI_TEST_NODE', ''),
        'host': env.get('HTTP_HOST', ''),
        'key': env.get('UWSGI_FASTROUTER_KEY', ''),
        'path': env.get('PATH_INFO', ''),
        'length': len(body),
        'sha1': hashlib.sha1(body).hexdigest(),
    }).encode()
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(payload)))])
    return [payload]
