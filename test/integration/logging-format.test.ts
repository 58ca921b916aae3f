/**
 * What a log line says: --log-format with uWSGI's request variables, --log-date (on by default
 * for tsgi's own lines, a strftime format, or off), and --log-encoder json / --log-req-encoder,
 * whose lines parse with the real jq, a request line and a lifecycle line alike.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readLog, waitForLog } from '../helpers/logs.js';
import { pickPort } from '../helpers/ports.js';
import { httpGet, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';

async function serve(args: string[]): Promise<{ server: Server; port: number; file: string }> {
  const port = await pickPort();
  const file = join(tempDir(), 'tsgi.log');
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'myapp', '--master', '--processes', '1', '--logto', file, ...args], { ready: null });
  await waitForLog(file, /all 1 workers ready/, 15_000);
  return { server, port, file };
}

test('--log-format renders uWSGI\'s request variables, %(var.NAME) included', async () => {
  const format = '%(addr) %(method) %(uri) %(proto) %(status) %(size) wid=%(wid) core=%(core) ua=%(uagent) ref=%(referer) host=%(host) x=%(var.HTTP_X_TRACE) ms=%(msecs) us=%(micros) [%(ltime)] t=%(time) hdrs=%(headers) pid=%(pid) none=%(no_such_logvar).';
  const { server, port, file } = await serve(['--log-format', format]);
  try {
    const started = Math.floor(Date.now() / 1000);
    await httpGet({ port }, '/fmt?q=1', { headers: { 'User-Agent': 'probe/1.0', Referer: 'http://ref.example/', 'X-Trace': 'abc123' } });
    const [line] = await waitForLog(file, /^127\.0\.0\.1 GET .*$/m);
    const expected = new RegExp(`^127\\.0\\.0\\.1 GET /fmt\\?q=1 HTTP/1\\.1 200 20 wid=1 core=0 ua=probe/1\\.0 ref=http://ref\\.example/ host=[\\w.]+:${port} x=abc123 `
      + 'ms=\\d+ us=\\d+ \\[\\d\\d/\\w{3}/\\d{4}:\\d\\d:\\d\\d:\\d\\d [+-]\\d{4}\\] t=(\\d+) hdrs=\\d+ pid=(\\d+) none=\\.$');
    const match = expected.exec(line!);
    assert.ok(match, `${line} matches ${expected}`);
    assert.ok(Math.abs(Number(match![1]) - started) <= 2, 'time is the request start');
    assert.match(readLog(file), new RegExp(`\\[worker 1\\] ready \\(pid ${match![2]}\\)`), 'pid is the worker\'s');
  } finally {
    await server.stop();
  }
});

test('--log-format in an ini file is taken as written: its %(name) are request variables, not placeholders', async () => {
  const dir = tempDir();
  const ini = join(dir, 'fmt.ini');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(ini, '[uwsgi]\nlog-format = %(method) %(uri) -> %(status)\n');
  const { server, port, file } = await serve([ini]);
  try {
    await httpGet({ port }, '/from-ini');
    await waitForLog(file, /^GET \/from-ini -> 200$/m);
  } finally {
    await server.stop();
  }
});

test('--log-date FORMAT stamps tsgi\'s own lines with strftime; --log-date=false leaves them bare', async () => {
  const dated = await serve(['--log-date', '[%Y-%m-%dT%H:%M:%S]']);
  try {
    assert.match(readLog(dated.file), /^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\] \[master\] all 1 workers ready$/m);
  } finally {
    await dated.server.stop();
  }
  const bare = await serve(['--log-date=false']);
  try {
    assert.match(readLog(bare.file), /^\[master\] all 1 workers ready$/m);
  } finally {
    await bare.server.stop();
  }
});

test('--log-encoder json: every line, lifecycle and request, is a JSON object jq parses', async () => {
  const { server, port, file } = await serve(['--log-encoder', 'json']);
  try {
    await httpGet({ port }, '/json?a="quoted"\\slash');
    await waitForLog(file, /GET \/json/);
    await server.stop();
    const jq = spawnSync('jq', ['-c', '.msg', file], { encoding: 'utf8' });
    assert.is(jq.status, 0, `jq parses every line: ${jq.stderr}\n${readLog(file)}`);
    const messages = jq.stdout.trim().split('\n').map((line) => JSON.parse(line) as string);
    assert.ok(messages.some((msg) => /\[master\] all 1 workers ready$/.test(msg)), 'a lifecycle line');
    assert.ok(messages.some((msg) => /GET \/json\?a=%22quoted%22%5Cslash|GET \/json\?a="quoted"\\slash/.test(msg)), `a request line: ${messages.join('\n')}`);
    const unix = spawnSync('jq', ['-e', 'select(.unix | type != "number")', file], { encoding: 'utf8' });
    assert.is(unix.stdout, '', 'every line has a numeric unix time');
  } finally {
    await server.stop();
  }
});

test('--log-req-encoder with a template and --req-logger: request lines as structured JSON, apart from the rest', async () => {
  const dir = tempDir();
  const requests = join(dir, 'requests.json');
  const format = '"method":"%(method)","uri":"%(uri)","status":%(status),"size":%(size)';
  const { server, port } = await serve(['--req-logger', `file:${requests}`, '--log-format', format, '--log-req-encoder', 'format {"time":"${strftime:%Y-%m-%d}",${msg}}']);
  try {
    await httpGet({ port }, '/structured');
    await waitForLog(requests, /structured/);
    const jq = spawnSync('jq', ['-c', '[.method, .uri, .status, .size, (.time | test("^\\\\d{4}-\\\\d\\\\d-\\\\d\\\\d$"))]', requests], { encoding: 'utf8' });
    assert.is(jq.status, 0, jq.stderr);
    assert.is(jq.stdout.trim(), '["GET","/structured",200,20,true]');
  } finally {
    await server.stop();
  }
});

test('a bad --log-encoder names the option and where it was set', async () => {
  const server = await startTsgi(['--http-socket', '127.0.0.1:1', '--module', 'myapp', '--log-encoder', 'gzip'], { ready: null });
  assert.is(await server.exited, 1);
  assert.match(server.log(), /--log-encoder \(command line\).*unknown log encoder "gzip"/);
});

test.run();
