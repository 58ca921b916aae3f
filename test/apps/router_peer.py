# A real uWSGI app behind tsgi's HTTP router (test/interop/http-router-uwsgi.test.ts): it answers
# the CGI vars it received as JSON, in a fixed order, and the length of the body it read.
import json


def application(env, start_response):
    body = env['wsgi.input'].read()
    names = ['REQUEST_METHOD', 'PATH_INFO', 'REQUEST_URI', 'QUERY_STRING', 'SERVER_PROTOCOL', 'SERVER_PORT',
             'UWSGI_ROUTER', 'REMOTE_ADDR', 'HTTP_HOST', 'HTTP_X_TALK', 'CONTENT_LENGTH']
    payload = json.dumps({'vars': {name: env.get(name) for name in names}, 'body': len(body)}).encode()
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(payload)))])
    return [payload]
