// Test fixture for test/integration/hardening-protocols.test.ts: the same app on HTTP, uwsgi and
// FastCGI sockets, for what hostile clients send (bad chunked bodies, trickled bodies, reserved
// var names, a status with a line break in it).
//   tsgi --http-socket :8080 --socket :3031 --fastcgi-socket :9000 --wsgi-file test/apps/hardening.js
const text = [['Content-Type', 'text/plain']];

const routes = {
  /**
   * Reads the whole body. A failed read is logged as one line (the test reads the server log,
   * whichever worker ran it) and rethrown, as an app that does not catch it would.
   */
  async '/read'(env, sr) {
    let body;
    try {
      body = await env['tsgi.input'];
    } catch (error) {
      console.log(`hardening-app: read ${env.QUERY_STRING} failed: ${error.code ?? error.message}`);
      throw error;
    }
    sr('200 OK', text);
    return `read ${body.length}\n`;
  },
  /** Answers with the status given in the query string (percent-decoded), as app code might. */
  '/status'(env, sr) {
    sr(decodeURIComponent(env.QUERY_STRING), text);
    return 'status body\n';
  },
  /** Every string-valued CGI variable, as JSON, and the types of the tsgi keys. */
  '/env'(env, sr) {
    const vars = {};
    for (const key of Object.keys(env)) if (typeof env[key] === 'string') vars[key] = env[key];
    vars['typeof tsgi.input'] = typeof env['tsgi.input']?.read;
    vars['typeof tsgi.signal'] = typeof env['tsgi.signal']?.aborted;
    sr('200 OK', [['Content-Type', 'application/json']]);
    return JSON.stringify(vars);
  },
};

export function application(env, start_response) {
  const route = routes[env.PATH_INFO];
  if (route) return route(env, start_response);
  // Anything else (OPTIONS *, …) gets its env back too, so a test sees what the app saw.
  return routes['/env'](env, start_response);
}
