# A real uWSGI app for the RPC interop tests: it registers `pyhello`, calls tsgi's RPC functions
# (?node=…&name=…&arg=…) and raises remote signals on tsgi (?signal=N&node=…).
from urllib.parse import parse_qs
import uwsgi


def pyhello(*args):
    return b'hello from uwsgi ' + b','.join(args)


uwsgi.register_rpc('pyhello', pyhello)


def application(env, start_response):
    query = parse_qs(env['QUERY_STRING'])
    start_response('200 OK', [('Content-Type', 'text/plain')])
    if 'signal' in query:
        uwsgi.signal(int(query['signal'][0]), query['node'][0])
        return [b'signalled']
    args = [a.encode() for a in query.get('arg', [])]
    result = uwsgi.rpc(query['node'][0], query['name'][0].encode(), *args)
    return [result if result else b'NONE']
