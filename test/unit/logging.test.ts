/**
 * The logging room's pure parts: target specs as uWSGI writes them, encoders (JSON escaping,
 * templates), strftime, and --log-format rendering of a request.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EncoderChain, parseEncoder } from '../../runtime/logging/encoder.js';
import { RequestFormat, type LoggedRequest } from '../../runtime/logging/request-format.js';
import { loggerTarget, logtoTarget } from '../../runtime/logging/spec.js';
import { ctime, strftime } from '../../runtime/logging/strftime.js';

test('--logto: a colon makes it UDP, else a file; --logger: file:, udp:/socket:, syslog[:ident[,facility]], stdio', () => {
  assert.equal(logtoTarget('/var/log/app.log'), { type: 'file', path: '/var/log/app.log' });
  assert.equal(logtoTarget('10.0.0.1:1717'), { type: 'udp', host: '10.0.0.1', port: 1717 });
  assert.equal(logtoTarget(':1717'), { type: 'udp', host: '127.0.0.1', port: 1717 });
  assert.equal(loggerTarget('file:/tmp/x.log'), { type: 'file', path: '/tmp/x.log' });
  assert.equal(loggerTarget('socket:[::1]:514'), { type: 'udp', host: '::1', port: 514 });
  assert.equal(loggerTarget('syslog'), { type: 'syslog', ident: 'tsgi', facility: 1 });
  assert.equal(loggerTarget('syslog:web,local7'), { type: 'syslog', ident: 'web', facility: 23 });
  assert.equal(loggerTarget('stdio'), { type: 'stderr' });
  assert.throws(() => loggerTarget('syslog:web,nowhere'), /unknown syslog facility "nowhere"/);
  assert.throws(() => loggerTarget('file:'), /needs a path/);
  assert.throws(() => logtoTarget('host:99999'), /expected HOST:PORT/);
});

test('json escapes the line into ${msg}; format keeps it; chains apply in order; unknown names are refused', () => {
  const at = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
  assert.is(parseEncoder('json').encode('say "hi"\t\\ \u0001', at), '{"unix":1767323045,"msg":"say \\"hi\\"\\t\\\\ \\u0001"}');
  assert.is(JSON.parse(parseEncoder('json').encode('a "b" \\ c', at)).msg, 'a "b" \\ c');
  assert.is(parseEncoder('json {"m":"${msgnl}","ms":${millis},"us":${micros}}').encode('x', at), '{"m":"x\\n","ms":1767323045678,"us":1767323045678000}');
  assert.is(new EncoderChain(['prefix >> ', 'format [${msg}]', 'suffix !', 'nl']).encode('line', at), '[>> line]!');
  assert.ok(new EncoderChain([]).empty);
  assert.throws(() => parseEncoder('gzip'), /unknown log encoder "gzip"/);
  assert.throws(() => parseEncoder('json ${nope}'), /unknown encoder variable \$\{nope\}/);
});

test('strftime and ctime, in local time', () => {
  const date = new Date(2026, 1, 3, 4, 5, 6);
  assert.is(strftime('%Y-%m-%d %H:%M:%S %% %j %e|%a %b %y %I%p', date), '2026-02-03 04:05:06 % 034  3|Tue Feb 26 04AM');
  assert.is(strftime('%F %T', date), '2026-02-03 04:05:06');
  assert.is(ctime(date), 'Tue Feb  3 04:05:06 2026');
});

function request(overrides: Partial<LoggedRequest> = {}): LoggedRequest {
  return {
    env: { REQUEST_METHOD: 'POST', REQUEST_URI: '/p?q=1', REMOTE_ADDR: '10.1.2.3', SERVER_PROTOCOL: 'HTTP/1.1', CONTENT_LENGTH: '42', HTTP_X_ID: 'abc' },
    statusCode: 201, bytes: 7, headers: [['Content-Type', 'text/plain']], status: '201 Created', index: 3,
    startedAt: performance.now() - 12, reporting: { id: 2 },
    ...overrides,
  };
}

test('--log-format renders the request variables; missing values are "-", unknown names (logvars) empty', () => {
  const format = new RequestFormat('%(method) %(uri) %(status) %(size) %(cl) %(addr) %(user) wid=%(wid) core=%(core) hdrs=%(headers) hsize=%(hsize) id=%(var.HTTP_X_ID) [%(logvar)] %(pid)');
  assert.is(format.render(request()), `POST /p?q=1 201 7 42 10.1.2.3 - wid=2 core=3 hdrs=1 hsize=${9 + 11 + 4 + 12 + 10 + 4} id=abc [] ${process.pid}`);
  const times = new RequestFormat('%(msecs) %(micros) %(secs)').render(request()).split(' ').map(Number);
  assert.ok(times[0]! >= 12 && times[0]! < 1000, `msecs ${times[0]}`);
  assert.ok(times[1]! >= 12_000, `micros ${times[1]}`);
  assert.ok(times[2]! >= 0.012, `secs ${times[2]}`);
  assert.is(new RequestFormat('no placeholders').render(request()), 'no placeholders');
});

test.run();
