/**
 * FastCGI against real peers: nginx `fastcgi_pass` with Debian's fastcgi_params (keep-alive
 * upstream with `fastcgi_keep_conn on`, plain, unix socket) and `cgi-fcgi` from Debian's
 * libfcgi-bin. A missing nginx or cgi-fcgi makes these tests fail with a hint; they never skip.
 * The hand-driven protocol tests are in test/integration/fastcgi.test.ts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { expectedNginxParams, nginxBinary, startNginx, type Nginx, type Peer } from '../helpers/peers.js';
import { FIXTURE_APPS, sleep, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';
import { track } from '../helpers/processes.js';

const FASTCGI_PARAMS = '/etc/nginx/fastcgi_params';
const CGI_FCGI_HINT = 'run `bash .ci/install-deps` (as root) to install libfcgi-bin (cgi-fcgi) and nginx';

// ---------------------------------------------------------------- helpers

/** Starts tsgi, tracked so it cannot outlive this process; its stop() falls back to SIGKILL after 10 s. */
async function tsgi(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Server> {
  const server = await startTsgi(args, { cwd: FIXTURE_APPS, env });
  server.stop = () => server.tracked.stop(10_000);
  return server;
}

async function stopAll(...peers: Array<Peer | Server | null | undefined>): Promise<void> {
  for (const peer of peers.reverse()) if (peer) await peer.stop();
}

function sha1(data: Buffer): string {
  return createHash('sha1').update(data).digest('hex');
}

async function waitFor(check: () => boolean, timeoutMs = 3000): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(20)) if (check()) return true;
  return check();
}

interface Exchange {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  raw: Buffer;
  localPort: number;
}

/** One HTTP/1.1 request written byte for byte (send Connection: close), read until the server closes. */
function exchange(port: number, head: string, body?: Buffer, timeoutMs = 15_000): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let localPort = 0;
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 300))}`)));
    socket.on('connect', () => {
      localPort = socket.localPort!;
      socket.write(body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1'));
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const raw = Buffer.concat(chunks);
      const headEnd = raw.indexOf('\r\n\r\n');
      if (headEnd < 0) return reject(new Error(`no end of headers in ${JSON.stringify(raw.toString('latin1').slice(0, 300))}`));
      const [statusLine, ...lines] = raw.toString('latin1', 0, headEnd).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).toLowerCase();
        headers[name] = name in headers ? `${headers[name]}, ${line.slice(colon + 1).trim()}` : line.slice(colon + 1).trim();
      }
      let payload: Buffer = raw.subarray(headEnd + 4);
      if (/chunked/i.test(headers['transfer-encoding'] ?? '')) payload = dechunk(payload);
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: payload, raw, localPort });
    });
  });
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; ;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) throw new Error('truncated chunked body');
    const size = parseInt(data.toString('latin1', at, lineEnd), 16);
    if (size === 0) return Buffer.concat(parts);
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

function requestHead(method: string, target: string, headers: Array<[string, string]>): string {
  return `${method} ${target} HTTP/1.1\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
}


function nginxVersion(): string {
  const run = spawnSync(nginxBinary(), ['-v'], { encoding: 'utf8' });
  return /nginx\/(\S+)/.exec(`${run.stdout}${run.stderr}`)?.[1] ?? '';
}

function nginxErrors(nginx: Nginx): string[] {
  return nginx.errorLog().split('\n').filter((line) => /\[(error|crit|alert|emerg)\]/.test(line));
}

/** TCP connections on 127.0.0.1:port (the tsgi side) in `state`, as `ss` counts them. */
function connectionsOn(port: number, state: 'established' | 'time-wait'): number {
  const run = spawnSync('ss', ['-Htn', 'state', state, `( sport = :${port} )`], { encoding: 'utf8' });
  if (run.error) throw new Error(`ss failed (${run.error.message}): run \`bash .ci/install-deps\` to install iproute2`);
  return run.stdout.split('\n').filter((line) => line.trim() !== '').length;
}

/** Runs Debian's cgi-fcgi as a CGI program would be run: env = the CGI vars only, stdin = the body. */
function cgiFcgi(connectTo: string, env: Record<string, string>, body = Buffer.alloc(0)): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const binary = ['/usr/bin/cgi-fcgi', '/usr/local/bin/cgi-fcgi'].find((path) => existsSync(path));
  if (binary === undefined) throw new Error(`cgi-fcgi is not installed: ${CGI_FCGI_HINT}`);
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['-bind', '-connect', connectTo], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    track('cgi-fcgi', child, { output: () => stderr });
    const stdout: Buffer[] = [];
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(stdout), stderr });
    });
    // cgi-fcgi may be done (a GET) and gone before its stdin is closed: EPIPE then is no failure.
    child.stdin.on('error', () => {});
    child.stdin.end(body);
  });
}

// ---------------------------------------------------------------- one tsgi, driven by cgi-fcgi

const socketDir = tempDir();
const unixPath = join(socketDir, 'fcgi.sock');
let port = 0;
let server: Server;

test.before(async () => {
  port = await pickPort();
  server = await tsgi(['--socket', `127.0.0.1:${port}`, '--protocol', 'fastcgi', '--fastcgi-socket', unixPath, '--module', 'green', '--async', '16', '--socket-timeout', '1']);
});
test.after(async () => {
  const code = await server?.stop();
  rmSync(socketDir, { recursive: true, force: true });
  assert.is(code, 0, 'graceful shutdown exits 0');
});

test("Debian's cgi-fcgi -bind -connect (TCP and unix socket): GET env and a POST body", async () => {
  for (const connectTo of [`127.0.0.1:${port}`, unixPath]) {
    const get = await cgiFcgi(connectTo, { REQUEST_METHOD: 'GET', REQUEST_URI: '/env?from=cgi-fcgi', SCRIPT_NAME: '/env', SERVER_PROTOCOL: 'HTTP/1.1', QUERY_STRING: 'from=cgi-fcgi' });
    assert.is(get.code, 0, get.stderr);
    const text = get.stdout.toString('latin1');
    assert.ok(text.startsWith('Status: 200 OK\r\nContent-Type: application/json\r\n\r\n'), text.slice(0, 200));
    const env = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Record<string, string>;
    assert.equal([env.PATH_INFO, env.SCRIPT_NAME, env.QUERY_STRING, env.SERVER_PROTOCOL], ['/env', '', 'from=cgi-fcgi', 'HTTP/1.1']);

    const body = randomBytes(150_000);
    const post = await cgiFcgi(connectTo, { REQUEST_METHOD: 'POST', PATH_INFO: '/echo', CONTENT_LENGTH: String(body.length), CONTENT_TYPE: 'application/octet-stream' }, body);
    assert.is(post.code, 0, post.stderr);
    const out = post.stdout;
    const headEnd = out.indexOf('\r\n\r\n');
    assert.is(out.toString('latin1', 0, headEnd), 'Status: 200 OK\r\nContent-Type: application/octet-stream');
    assert.is(sha1(out.subarray(headEnd + 4)), sha1(body), 'the body came back intact');
  }
});

// ---------------------------------------------------------------- behind nginx

test('nginx fastcgi_pass + Debian fastcgi_params (keepalive upstream, fastcgi_keep_conn on; plain; unix): exact env, bodies, connection reuse', async () => {
  const upstream = await pickPort();
  const pooled = await pickPort();
  const plain = await pickPort();
  const overUnix = await pickPort();
  const dir = tempDir();
  const sock = join(dir, 'tsgi-fcgi.sock');
  let app: Server | undefined;
  let nginx: Nginx | undefined;
  try {
    app = await tsgi(['--socket', `127.0.0.1:${upstream}`, '--protocol', 'fastcgi', '--fastcgi-socket', sock, '--module', 'env-echo']);
    nginx = await startNginx({
      ports: [pooled, plain, overUnix],
      http: `    upstream tsgi_fastcgi {
        server 127.0.0.1:${upstream};
        keepalive 8;
    }
    server {
        listen 127.0.0.1:${pooled};
        server_name fcgi.test;
        client_max_body_size 10m;
        location / {
            include ${FASTCGI_PARAMS};
            fastcgi_keep_conn on;
            fastcgi_pass tsgi_fastcgi;
        }
    }
    server {
        listen 127.0.0.1:${plain};
        client_max_body_size 10m;
        location / {
            include ${FASTCGI_PARAMS};
            fastcgi_pass 127.0.0.1:${upstream};
        }
    }
    server {
        listen 127.0.0.1:${overUnix};
        client_max_body_size 10m;
        location / {
            include ${FASTCGI_PARAMS};
            fastcgi_pass unix:${sock};
        }
    }`,
    });

    // GET: percent-encoded UTF-8, a dot segment and a double slash in the path; a query string.
    const target = '/a%20b/caf%C3%A9/./x//y?q=1&r=%20';
    const headers: Array<[string, string]> = [['Host', `Fcgi.Test:${pooled}`], ['X-Custom', 'v1'], ['User-Agent', 'tsgi-test'], ['Connection', 'close']];
    const get = await exchange(pooled, requestHead('GET', target, headers));
    assert.is(get.status, 200, get.raw.toString('latin1').slice(0, 500));
    assert.is(get.headers['x-echo'], 'env-echo');
    assert.is(Number(get.headers['content-length']), get.body.length);
    const echo = JSON.parse(get.body.toString()) as { vars: Record<string, string>; body: { length: number } };
    const documentUri = Buffer.from('/a b/café/x/y', 'utf8').toString('latin1');
    const expected = expectedNginxParams('fastcgi', {
      query_string: 'q=1&r=%20', request_method: 'GET', content_type: '', content_length: '',
      fastcgi_script_name: documentUri, request_uri: target, document_uri: documentUri, document_root: join(nginx.dir, 'html'),
      server_protocol: 'HTTP/1.1', scheme: 'http', https: '', nginx_version: nginxVersion(),
      remote_addr: '127.0.0.1', remote_port: String(get.localPort), remote_user: '', server_addr: '127.0.0.1',
      server_port: String(pooled), server_name: 'fcgi.test', host: 'fcgi.test',
    }, headers).map(([name, value]): [string, string] => [name, name === 'SCRIPT_NAME' ? '' : value]);
    // Exactly what nginx sent, in its order, plus the PATH_INFO the stock params leave out.
    assert.equal(Object.entries(echo.vars), [...expected, ['PATH_INFO', documentUri]]);
    assert.is(echo.body.length, 0);

    // POST bodies: 200 KB and 1 MB, and a chunked one nginx buffers and sends with CONTENT_LENGTH.
    for (const size of [200 * 1024, 1024 * 1024]) {
      const body = randomBytes(size);
      const post = await exchange(pooled, requestHead('POST', '/upload?x=1', [['Host', 'h'], ['Content-Type', 'application/octet-stream'], ['Content-Length', String(size)], ['Connection', 'close']]), body);
      assert.is(post.status, 200, post.raw.toString('latin1').slice(0, 500));
      const posted = JSON.parse(post.body.toString()) as { vars: Record<string, string>; body: { length: number; sha1: string } };
      assert.equal(posted.body, { length: size, sha1: sha1(body) }, `${size}-byte body intact`);
      assert.is(posted.vars.CONTENT_LENGTH, String(size));
      assert.is(posted.vars.PATH_INFO, '/upload');
    }
    const small = randomBytes(50_000);
    const chunked = Buffer.concat([Buffer.from(`${(30_000).toString(16)}\r\n`), small.subarray(0, 30_000), Buffer.from(`\r\n${(20_000).toString(16)}\r\n`), small.subarray(30_000), Buffer.from('\r\n0\r\n\r\n')]);
    const chunkedPost = await exchange(pooled, requestHead('POST', '/chunked', [['Host', 'h'], ['Transfer-Encoding', 'chunked'], ['Connection', 'close']]), chunked);
    assert.equal((JSON.parse(chunkedPost.body.toString()) as { body: unknown }).body, { length: small.length, sha1: sha1(small) });

    // Keep-alive: 100 sequential requests ride one upstream connection, which stays open.
    for (let i = 0; i < 100; i++) {
      const result = await exchange(pooled, requestHead('GET', `/seq/${i}`, [['Host', 'h'], ['Connection', 'close']]));
      assert.is(result.status, 200);
      assert.is((JSON.parse(result.body.toString()) as { vars: Record<string, string> }).vars.PATH_INFO, `/seq/${i}`);
    }
    assert.is(connectionsOn(upstream, 'established'), 1, 'one kept-alive upstream connection');
    assert.is(connectionsOn(upstream, 'time-wait'), 0, 'tsgi closed no upstream connection');
    // In parallel: still within the pool of 8.
    await Promise.all(Array.from({ length: 40 }, (_, i) => exchange(pooled, requestHead('GET', `/par/${i}`, [['Host', 'h'], ['Connection', 'close']])).then((r) => assert.is(r.status, 200))));
    assert.ok(connectionsOn(upstream, 'established') <= 8, `at most keepalive 8 upstream connections: ${connectionsOn(upstream, 'established')}`);

    // Without fastcgi_keep_conn tsgi closes after each response; over a unix socket too.
    for (const [front, label] of [[plain, 'plain'], [overUnix, 'unix']] as const) {
      for (let i = 0; i < 10; i++) {
        const result = await exchange(front, requestHead('GET', `/${label}/${i}?i=${i}`, [['Host', 'h'], ['Connection', 'close']]));
        assert.is(result.status, 200, `${label} ${i}: ${result.raw.toString('latin1').slice(0, 300)}`);
        const vars = (JSON.parse(result.body.toString()) as { vars: Record<string, string> }).vars;
        assert.equal([vars.PATH_INFO, vars.QUERY_STRING], [`/${label}/${i}`, `i=${i}`]);
      }
    }
    assert.equal(nginxErrors(nginx), [], 'nginx logged no upstream errors');
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- tsgi log:\n${app?.log().slice(-3000) ?? ''}\n--- nginx error log:\n${nginx?.errorLog() ?? ''}`);
  } finally {
    await stopAll(app, nginx);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nginx fastcgi_pass (keep-alive): statuses and big responses pass through; a client hang-up halts the green thread', async () => {
  const upstream = await pickPort();
  const front = await pickPort();
  const hangupMarkers = tempDir();
  let app: Server | undefined;
  let nginx: Nginx | undefined;
  try {
    app = await tsgi(['--socket', `127.0.0.1:${upstream}`, '--protocol', 'fastcgi', '--module', 'green', '--async', '8'], { TSGI_TEST_MARKERS: hangupMarkers });
    nginx = await startNginx({
      ports: [front],
      http: `    upstream tsgi_fastcgi {
        server 127.0.0.1:${upstream};
        keepalive 4;
    }
    server {
        listen 127.0.0.1:${front};
        location / {
            include ${FASTCGI_PARAMS};
            fastcgi_keep_conn on;
            fastcgi_buffering off;
            fastcgi_pass tsgi_fastcgi;
        }
    }`,
    });
    const close: Array<[string, string]> = [['Host', 'h'], ['Connection', 'close']];
    const missing = await exchange(front, requestHead('GET', '/nope', close));
    assert.is(missing.status, 404);
    assert.is(missing.body.toString(), 'no such route\n');
    const crash = await exchange(front, requestHead('GET', '/throw', close));
    assert.is(crash.status, 500);
    const big = await exchange(front, requestHead('GET', '/big', close), undefined, 30_000);
    assert.is(big.status, 200);
    assert.is(big.body.length, 64 * 64 * 1024 + 1, '4 MiB streamed through');

    // The client hangs up while the app sleeps: nginx drops the upstream connection, tsgi halts the thread.
    await new Promise<void>((resolve, reject) => {
      const socket = connect(front, '127.0.0.1', () => socket.write(requestHead('GET', '/cancel?id=nginx', [['Host', 'h']])));
      socket.on('data', (chunk: Buffer) => {
        if (chunk.toString('latin1').includes('waiting')) {
          socket.destroy();
          resolve();
        }
      });
      socket.on('error', reject);
      socket.setTimeout(5000, () => socket.destroy(new Error('no "waiting" within 5 s')));
    });
    assert.ok(await waitFor(() => existsSync(join(hangupMarkers, 'finally-nginx'))), 'the generator finally block ran');
    const after = await exchange(front, requestHead('GET', '/array', close));
    assert.is(after.body.toString(), 'xyz\n');
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- tsgi log:\n${app?.log().slice(-3000) ?? ''}\n--- nginx error log:\n${nginx?.errorLog() ?? ''}`);
  } finally {
    await stopAll(app, nginx);
  }
});

test.run();
