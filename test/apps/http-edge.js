// Test fixture for test/integration/http.test.ts: one endpoint per HTTP edge case of
// `--http-socket` (pipelining, bodies, framing, status without body, errors, disconnects).
//   tsgi --http-socket :8080 --wsgi-file test/apps/http-edge.js --async 8
import uwsgi from 'tsgi';

const text = [['Content-Type', 'text/plain']];
const query = (env) => new URLSearchParams(env.QUERY_STRING ?? '');

/** Long-poll ids whose generator reached its `finally` (the client went away). */
const finals = new Set();
/** What /read-body?id=ID got: "read N" or "error CODE". */
const reads = new Map();

const routes = {
  /** The path, answered at once with a Content-Length. */
  '/path'(env, sr) {
    sr('200 OK', text);
    return `path ${env.REQUEST_URI}\n`;
  },
  /** The path, after a green-thread sleep of `s` seconds (pipelined answers stay in order). */
  *'/slow'(env, sr) {
    yield uwsgi.async_sleep(Number(query(env).get('s') ?? 0.2));
    sr('200 OK', text);
    yield `path ${env.REQUEST_URI}\n`;
  },
  /** The body, read whole, answered whole; what the app saw of its framing in headers. */
  async '/echo'(env, sr) {
    const body = await env['tsgi.input'];
    sr('200 OK', [
      ['Content-Type', 'application/octet-stream'],
      ['X-Env-Content-Length', env.CONTENT_LENGTH ?? 'none'],
      ['X-Input-Length', String(env['tsgi.input'].length)],
    ]);
    return body;
  },
  /** The body, chunk by chunk as it arrives, streamed back (chunked). */
  async *'/stream-echo'(env, sr) {
    sr('200 OK', [['Content-Type', 'application/octet-stream']]);
    for await (const chunk of env['tsgi.input']) yield chunk;
  },
  /** Answers without reading the body. */
  '/ignore-body'(env, sr) {
    sr('200 OK', text);
    return `ignored ${env.CONTENT_LENGTH ?? 'chunked'}\n`;
  },
  /** Every string-valued CGI variable, as JSON. */
  '/env'(env, sr) {
    const vars = {};
    for (const key of Object.keys(env)) if (typeof env[key] === 'string') vars[key] = env[key];
    sr('200 OK', [['Content-Type', 'application/json']]);
    return JSON.stringify(vars);
  },
  /** A generator without Content-Length: 'hello', an empty chunk, 'world' (chunked on 1.1). */
  *'/stream'(env, sr) {
    sr('200 OK', text);
    yield 'hello';
    yield uwsgi.async_sleep(0.02);
    yield '';
    yield 'world';
  },
  /** `code` (204, 304…) from a plain return, with a body the server must not send. */
  '/status'(env, sr) {
    sr(`${query(env).get('code')} Whatever`, text);
    return 'this body must not be sent';
  },
  /** The same from a generator (streaming path). */
  *'/status-stream'(env, sr) {
    sr(`${query(env).get('code')} Whatever`, text);
    yield 'must not';
    yield ' be sent';
  },
  /** The app asks for the connection to close. */
  '/close'(env, sr) {
    sr('200 OK', [...text, ['Connection', 'close']]);
    return 'closing\n';
  },
  /** The app sets Content-Length and streams the body in parts. */
  *'/length'(env, sr) {
    sr('200 OK', [...text, ['Content-Length', '10']]);
    yield '01234';
    yield uwsgi.async_sleep(0.02);
    yield '56789';
  },
  /** Sends one chunk, then fails. */
  *'/throw-mid'(env, sr) {
    sr('200 OK', text);
    yield 'first\n';
    yield uwsgi.async_sleep(0.05);
    throw new Error('http-edge: failing after the first chunk');
  },
  /** A long poll: parks for 30 s; its `finally` records `id` when the client goes away. */
  *'/longpoll'(env, sr) {
    const id = query(env).get('id');
    sr('200 OK', text);
    try {
      yield 'waiting\n';
      yield uwsgi.async_sleep(30);
      yield 'never\n';
    } finally {
      finals.add(id);
    }
  },
  /** Reads the whole body and records the outcome (the client may vanish half-way). */
  async '/read-body'(env, sr) {
    const id = query(env).get('id');
    try {
      const body = await env['tsgi.input'];
      reads.set(id, `read ${body.length}`);
    } catch (error) {
      reads.set(id, `error ${error.code ?? error.message}`);
      throw error;
    }
    sr('200 OK', text);
    return `${reads.get(id)}\n`;
  },
  /**
   * An async app that outlives its client: after `ms` of plain (non-green) waiting it calls
   * start_response and the PEP 3333 write callable. If its client left meanwhile, neither may
   * touch whatever request the core serves by then.
   */
  async '/late-writer'(env, sr) {
    await new Promise((resolve) => setTimeout(resolve, Number(query(env).get('ms') ?? 300)));
    const write = sr('200 OK', [...text, ['X-From', 'late-writer']]);
    write('LEAKED FROM ANOTHER REQUEST\n');
    return 'late-writer done\n';
  },
  /** An async app that waits `ms` before start_response. */
  async '/slow-async'(env, sr) {
    await new Promise((resolve) => setTimeout(resolve, Number(query(env).get('ms') ?? 600)));
    sr('200 OK', [...text, ['X-From', 'slow-async']]);
    return 'slow-async done\n';
  },
  /** What /read-body?id=ID recorded, or "none". */
  '/read-result'(env, sr) {
    sr('200 OK', text);
    return reads.get(query(env).get('id')) ?? 'none';
  },
  /** Whether /longpoll?id=ID ran its finally: "yes" or "no". */
  '/finals'(env, sr) {
    sr('200 OK', text);
    return finals.has(query(env).get('id')) ? 'yes' : 'no';
  },
};

export function application(env, start_response) {
  const route = routes[env.PATH_INFO];
  if (!route) {
    start_response('404 Not Found', text);
    return `no such route: ${env.REQUEST_URI}\n`;
  }
  return route(env, start_response);
}
