# A real uWSGI app for the remote-cache tests: ?op=get|set&k=…[&v=…][&cache=name@host:port]
# runs uwsgi.cache_* on the local cache, or on a remote one (uWSGI's magic protocol).
from urllib.parse import parse_qs
import uwsgi


def application(env, start_response):
    query = parse_qs(env['QUERY_STRING'])
    op, key = query['op'][0], query['k'][0]
    where = query.get('cache', [])[:1]  # uWSGI takes the cache name only when one is given
    if op == 'set':
        result = b'true' if uwsgi.cache_update(key, query['v'][0].encode(), 0, *where) else b'false'
    else:
        value = uwsgi.cache_get(key, *where)
        result = value if value is not None else b'null'
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [result]
