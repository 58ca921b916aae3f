/**
 * tsgi behind real peers: Debian's nginx (uwsgi_pass over TCP and a unix socket, unbuffered
 * streaming, proxy_pass over HTTP/1.0 and HTTP/1.1 keep-alive) and Debian's uWSGI, whose HTTP
 * router forwards to tsgi over a Linux abstract socket. A missing nginx or uWSGI makes these
 * tests fail with a hint to run `.ci/install-deps`; they never skip.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { expectedNginxParams, INSTALL_HINT, nginxUwsgiParamsPath, startNginx, startUwsgi, uwsgiHttpPluginArgs, type Nginx, type Peer } from '../helpers/peers.js';
import { APPS, FIXTURE_APPS, httpGet, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

// ---------------------------------------------------------------- helpers

/** Starts tsgi, tracked so it cannot outlive this process; its stop() falls back to SIGKILL after 10 s. */
async function tsgi(args: string[], cwd = FIXTURE_APPS): Promise<Server> {
  const server = await startTsgi(args, { cwd });
  server.stop = () => server.tracked.stop(10_000);
  return server;
}

/** Stops everything started in a test (in reverse order), even after a failure. */
async function stopAll(...peers: Array<Peer | Server | null | undefined>): Promise<void> {
  for (const peer of peers.reverse()) if (peer) await peer.stop();
}

/** What the env-echo app answers. */
interface Echo {
  vars: Record<string, string>;
  body: { length: number; sha1: string };
}

interface Exchange {
  status: number;
  headers: Record<string, string>;
  /** The body, de-chunked when nginx used chunked transfer coding. */
  body: Buffer;
  /** Client port of the connection (nginx's $remote_port). */
  localPort: number;
  /** The raw response bytes; per socket read: when (performance.now(), Date.now()) and the total so far. */
  raw: Buffer;
  arrivals: Array<{ at: number; wall: number; total: number }>;
  startedAt: number;
  endedAt: number;
}

/**
 * One HTTP/1.1 request written byte for byte as given (so the path is not normalised and the
 * header order is known), read until the server closes the connection (send Connection: close).
 */
function exchange(port: number, head: string, body?: Buffer, timeoutMs = 15_000): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const arrivals: Array<{ at: number; wall: number; total: number }> = [];
    let total = 0;
    let localPort = 0;
    const startedAt = performance.now();
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 300))}`)));
    socket.on('connect', () => {
      localPort = socket.localPort!;
      socket.write(body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1'));
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      total += chunk.length;
      arrivals.push({ at: performance.now(), wall: Date.now(), total });
    });
    socket.on('error', reject);
    socket.on('end', () => {
      const endedAt = performance.now();
      try {
        const raw = Buffer.concat(chunks);
        const headEnd = raw.indexOf('\r\n\r\n');
        if (headEnd < 0) throw new Error(`no end of headers in ${JSON.stringify(raw.toString('latin1').slice(0, 300))}`);
        const [statusLine, ...lines] = raw.toString('latin1', 0, headEnd).split('\r\n');
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const colon = line.indexOf(':');
          const name = line.slice(0, colon).toLowerCase();
          const value = line.slice(colon + 1).trim();
          headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
        }
        let payload: Buffer = raw.subarray(headEnd + 4);
        if (/chunked/i.test(headers['transfer-encoding'] ?? '')) payload = dechunk(payload);
        resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: payload, localPort, raw, arrivals, startedAt, endedAt });
      } catch (error) {
        reject(error);
      }
    });
  });
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) throw new Error('truncated chunked body');
    const size = parseInt(data.toString('latin1', at, lineEnd), 16);
    if (Number.isNaN(size)) throw new Error(`bad chunk size line at ${at}`);
    if (size === 0) return Buffer.concat(parts);
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

function sha1(data: Buffer): string {
  return createHash('sha1').update(data).digest('hex');
}

/** The bytes of a UTF-8 string as tsgi puts them in the env (one char per byte, as latin1). */
function asBytes(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** What an nginx variable evaluates to for one request (only those uwsgi_params uses). */
type NginxVars = Record<string, string>;

function parseEcho(result: Exchange): Echo {
  try {
    return JSON.parse(result.body.toString('utf8')) as Echo;
  } catch {
    throw new Error(`not env-echo JSON (status ${result.status}): ${result.body.toString('utf8').slice(0, 500)}`);
  }
}

function requestHead(method: string, target: string, headers: Array<[string, string]>): string {
  return `${method} ${target} HTTP/1.1\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
}

/** The request-independent part of nginx's variables for a server block. */
function baseVars(nginx: Nginx, port: number, serverName: string): NginxVars {
  return {
    document_root: join(nginx.dir, 'html'),
    server_protocol: 'HTTP/1.1',
    scheme: 'http',
    https: '',
    remote_addr: '127.0.0.1',
    server_port: String(port),
    server_name: serverName,
  };
}

/** The error log lines at level error or worse (upstream failures, premature closes). */
function nginxErrors(nginx: Nginx): string[] {
  return nginx.errorLog().split('\n').filter((line) => /\[(error|crit|alert|emerg)\]/.test(line));
}

// ---------------------------------------------------------------- tests

test('nginx uwsgi_pass 127.0.0.1:PORT + Debian uwsgi_params → tsgi --socket: status, headers, exact env, 200 KB POST body', async () => {
  const upstream = await pickPort();
  const port = await pickPort();
  let server: Server | undefined;
  let nginx: Nginx | undefined;
  try {
    server = await tsgi(['--socket', `127.0.0.1:${upstream}`, '--module', 'env-echo']);
    nginx = await startNginx({
      ports: [port],
      http: `    server {
        listen 127.0.0.1:${port};
        server_name tsgi.test;
        client_max_body_size 10m;
        location / {
            include ${nginxUwsgiParamsPath()};
            uwsgi_pass 127.0.0.1:${upstream};
        }
    }`,
    });

    // GET: percent-encoded UTF-8, a dot segment and a double slash in the path; a query string.
    const target = '/a%20b/caf%C3%A9/./x//y?q=1&r=%20&s=%C3%A9';
    const getHeaders: Array<[string, string]> = [['Host', `Tsgi.Test:${port}`], ['X-Custom', 'v1'], ['User-Agent', 'tsgi-test'], ['Connection', 'close']];
    const get = await exchange(port, requestHead('GET', target, getHeaders));
    assert.is(get.status, 200, get.raw.toString('latin1').slice(0, 500));
    assert.is(get.headers['content-type'], 'application/json');
    assert.is(get.headers['x-echo'], 'env-echo');
    assert.ok(/^nginx/.test(get.headers.server ?? ''), `Server header is nginx's: ${get.headers.server}`);
    const getEcho = parseEcho(get);
    assert.is(Number(get.headers['content-length']), get.body.length, 'Content-Length from the app reaches the client');
    const getExpected = expectedNginxParams('uwsgi', {
      ...baseVars(nginx, port, 'tsgi.test'),
      query_string: 'q=1&r=%20&s=%C3%A9',
      request_method: 'GET',
      content_type: '',
      content_length: '',
      request_uri: target,
      document_uri: asBytes('/a b/café/x/y'),
      remote_port: String(get.localPort),
      host: 'tsgi.test',
      http_host: `Tsgi.Test:${port}`,
    }, getHeaders);
    // Exactly the vars nginx delivered, in nginx's order, nothing added or dropped.
    assert.equal(Object.entries(getEcho.vars), getExpected);
    // The ones the talk's slide lists, spelled out.
    assert.is(getEcho.vars.REQUEST_METHOD, 'GET');
    assert.is(getEcho.vars.REQUEST_URI, target);
    assert.is(getEcho.vars.PATH_INFO, asBytes('/a b/café/x/y'));
    assert.is(getEcho.vars.QUERY_STRING, 'q=1&r=%20&s=%C3%A9');
    assert.is(getEcho.vars.SERVER_PROTOCOL, 'HTTP/1.1');
    assert.is(getEcho.vars.REMOTE_ADDR, '127.0.0.1');
    assert.is(getEcho.vars.REMOTE_PORT, String(get.localPort));
    assert.is(getEcho.vars.SERVER_PORT, String(port));
    assert.is(getEcho.vars.SERVER_NAME, 'tsgi.test');
    assert.is(getEcho.vars.HTTP_X_CUSTOM, 'v1');
    assert.ok(getEcho.vars.HTTP_HOST === 'tsgi.test' || getEcho.vars.HTTP_HOST === `Tsgi.Test:${port}`, `HTTP_HOST ${getEcho.vars.HTTP_HOST}`);
    assert.is(getEcho.body.length, 0);

    // POST: 200 KB of random bytes, which nginx spools to a temp file and streams upstream.
    const body = randomBytes(200 * 1024);
    const postHeaders: Array<[string, string]> = [['Host', '127.0.0.1'], ['Content-Type', 'application/octet-stream'], ['Content-Length', String(body.length)], ['Connection', 'close']];
    const post = await exchange(port, requestHead('POST', '/upload?x=1', postHeaders), body);
    assert.is(post.status, 200, post.raw.toString('latin1').slice(0, 500));
    const postEcho = parseEcho(post);
    assert.equal(postEcho.body, { length: body.length, sha1: sha1(body) }, 'the POST body arrives intact');
    assert.equal(Object.entries(postEcho.vars), expectedNginxParams('uwsgi', {
      ...baseVars(nginx, port, 'tsgi.test'),
      query_string: 'x=1',
      request_method: 'POST',
      content_type: 'application/octet-stream',
      content_length: String(body.length),
      request_uri: '/upload?x=1',
      document_uri: '/upload',
      remote_port: String(post.localPort),
      host: '127.0.0.1',
      http_host: '127.0.0.1',
    }, postHeaders));
    assert.is(postEcho.vars.CONTENT_LENGTH, String(body.length));
    assert.is(postEcho.vars.CONTENT_TYPE, 'application/octet-stream');

    // A chunked request body: nginx buffers it and sends upstream with a computed CONTENT_LENGTH.
    const small = randomBytes(50_000);
    const chunked = Buffer.concat([
      Buffer.from(`${(30_000).toString(16)}\r\n`), small.subarray(0, 30_000), Buffer.from('\r\n'),
      Buffer.from(`${(20_000).toString(16)}\r\n`), small.subarray(30_000), Buffer.from('\r\n0\r\n\r\n'),
    ]);
    const chunkedPost = await exchange(port, requestHead('POST', '/chunked', [['Host', '127.0.0.1'], ['Transfer-Encoding', 'chunked'], ['Connection', 'close']]), chunked);
    assert.is(chunkedPost.status, 200, chunkedPost.raw.toString('latin1').slice(0, 500));
    const chunkedEcho = parseEcho(chunkedPost);
    assert.equal(chunkedEcho.body, { length: small.length, sha1: sha1(small) }, 'a chunked request body arrives intact');
    assert.is(chunkedEcho.vars.CONTENT_LENGTH, String(small.length));

    assert.equal(nginxErrors(nginx), [], 'nginx logged no upstream errors');
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- tsgi log:\n${server?.log() ?? ''}\n--- nginx error log:\n${nginx?.errorLog() ?? ''}`);
  } finally {
    await stopAll(server, nginx);
  }
});

test('nginx uwsgi_pass unix:/tmp/…sock → tsgi --master --processes 2 --socket /tmp/…sock', async () => {
  const dir = tempDir();
  const socketPath = join(dir, 'tsgi.sock');
  const port = await pickPort();
  let server: Server | undefined;
  let nginx: Nginx | undefined;
  try {
    server = await tsgi(['--master', '--processes', '2', '--socket', socketPath, '--module', 'env-echo']);
    nginx = await startNginx({
      ports: [port],
      http: `    server {
        listen 127.0.0.1:${port};
        server_name unix.test;
        location / {
            include ${nginxUwsgiParamsPath()};
            uwsgi_pass unix:${socketPath};
        }
    }`,
    });
    for (let i = 0; i < 6; i++) {
      const body = randomBytes(1000 * i);
      const headers: Array<[string, string]> = [['Host', 'unix.test'], ['Content-Type', 'application/x-test'], ['Content-Length', String(body.length)], ['Connection', 'close']];
      const result = await exchange(port, requestHead('POST', `/over/unix?i=${i}`, headers), body);
      assert.is(result.status, 200, result.raw.toString('latin1').slice(0, 500));
      const echo = parseEcho(result);
      assert.equal(echo.body, { length: body.length, sha1: sha1(body) });
      assert.is(echo.vars.REQUEST_URI, `/over/unix?i=${i}`);
      assert.is(echo.vars.PATH_INFO, '/over/unix');
      assert.is(echo.vars.QUERY_STRING, `i=${i}`);
      assert.is(echo.vars.REMOTE_ADDR, '127.0.0.1');
      assert.is(echo.vars.REMOTE_PORT, String(result.localPort));
      assert.is(echo.vars.SERVER_PORT, String(port));
      assert.is(echo.vars.SERVER_NAME, 'unix.test');
      assert.is(echo.vars.CONTENT_LENGTH, String(body.length));
    }
    assert.equal(nginxErrors(nginx), [], 'nginx logged no upstream errors');
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- tsgi log:\n${server?.log() ?? ''}\n--- nginx error log:\n${nginx?.errorLog() ?? ''}`);
  } finally {
    await stopAll(server, nginx);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nginx uwsgi_buffering off + generator app: chunks reach the client while the generator runs; a hang-up frees the core', async () => {
  const upstream = await pickPort();
  const port = await pickPort();
  let server: Server | undefined;
  let nginx: Nginx | undefined;
  try {
    // --async 1: one core, so a request left running after its client is gone would block the next.
    server = await tsgi(['--socket', `127.0.0.1:${upstream}`, '--async', '1', '--module', 'stream']);
    nginx = await startNginx({
      ports: [port],
      http: `    server {
        listen 127.0.0.1:${port};
        location / {
            include ${nginxUwsgiParamsPath()};
            uwsgi_buffering off;
            uwsgi_pass 127.0.0.1:${upstream};
        }
    }`,
    });
    const count = 4;
    const gapMs = 400;
    const result = await exchange(port, requestHead('GET', `/?n=${count}&gap=${gapMs / 1000}`, [['Host', 'localhost'], ['Connection', 'close']]));
    assert.is(result.status, 200, result.raw.toString('latin1').slice(0, 500));
    // Each line is `chunk I <Date.now() when the app yielded it>`.
    const lines = result.body.toString().trim().split('\n').map((line) => line.split(' '));
    assert.equal(lines.map((fields) => fields.slice(0, 2).join(' ')), ['chunk 0', 'chunk 1', 'chunk 2', 'chunk 3']);
    const produced = lines.map((fields) => Number(fields[2]));
    // When (wall clock) did each chunk's last byte reach the client?
    const rawText = result.raw.toString('latin1');
    const arrived = produced.map((_, i) => {
      const end = rawText.indexOf('\n', rawText.indexOf(`chunk ${i} `)) + 1;
      return result.arrivals.find((a) => a.total >= end)!.wall;
    });
    const t0 = produced[0]!;
    const detail = `produced at ${produced.map((t) => t - t0).join(', ')} ms, arrived at ${arrived.map((t) => t - t0).join(', ')} ms (relative to chunk 0)`;
    assert.ok(produced[count - 1]! - t0 >= (count - 1) * gapMs * 0.9, `the generator slept between chunks: ${detail}`);
    for (let i = 0; i < count - 1; i++) {
      assert.ok(arrived[i]! < produced[i + 1]!, `chunk ${i} reached the client before the app produced chunk ${i + 1}: ${detail}`);
    }
    assert.ok(arrived[count - 1]! - arrived[0]! >= (count - 2) * gapMs, `chunks arrived spread out, not at once: ${detail}`);

    // A client that hangs up mid-stream: nginx closes the upstream connection, tsgi halts the
    // generator (a 10 s stream) and frees the only core, so the next request is served at once.
    await new Promise<void>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(requestHead('GET', '/?n=100&gap=0.1', [['Host', 'localhost']])));
      let seen = '';
      socket.on('data', (chunk: Buffer) => {
        seen += chunk.toString('latin1');
        if (seen.includes('chunk 1 ')) {
          socket.destroy();
          resolve();
        }
      });
      socket.on('error', reject);
      socket.setTimeout(5000, () => socket.destroy(new Error(`no second chunk within 5 s: ${JSON.stringify(seen)}`)));
    });
    const before = Date.now();
    const next = await exchange(port, requestHead('GET', '/?n=2&gap=0.05', [['Host', 'localhost'], ['Connection', 'close']]), undefined, 8000);
    assert.is(next.status, 200);
    assert.is(next.body.toString().split('\n').length, 3);
    assert.ok(Date.now() - before < 3000, `the core was freed when the client left (next request took ${Date.now() - before} ms)`);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- tsgi log:\n${server?.log() ?? ''}\n--- nginx error log:\n${nginx?.errorLog() ?? ''}`);
  } finally {
    await stopAll(server, nginx);
  }
});

/** GET or POST through a keep-alive agent (or none), resolving with status and body. */
function agentRequest(port: number, path: string, agent: Agent | false, body?: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      path,
      agent,
      method: body ? 'POST' : 'GET',
      headers: body ? { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) } : {},
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(15_000, () => req.destroy(new Error(`${path}: no answer within 15 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

test('nginx proxy_pass (HTTP/1.0, and HTTP/1.1 + upstream keepalive 16) → tsgi --http-socket', async () => {
  const upstream = await pickPort();
  const plain = await pickPort();
  const pooled = await pickPort();
  let server: Server | undefined;
  let nginx: Nginx | undefined;
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  try {
    server = await tsgi(['--http-socket', `127.0.0.1:${upstream}`, '--module', 'env-echo']);
    nginx = await startNginx({
      ports: [plain, pooled],
      http: `    upstream tsgi_keepalive {
        server 127.0.0.1:${upstream};
        keepalive 16;
    }
    server {
        listen 127.0.0.1:${plain};
        client_max_body_size 10m;
        location / {
            proxy_pass http://127.0.0.1:${upstream};
        }
    }
    server {
        listen 127.0.0.1:${pooled};
        client_max_body_size 10m;
        location / {
            proxy_pass http://tsgi_keepalive;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }`,
    });

    // nginx's default: HTTP/1.0, Connection: close, a new upstream connection per request.
    const plainPorts = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const result = await agentRequest(plain, `/plain/${i}?i=${i}`, false);
      assert.is(result.status, 200, result.body);
      const echo = JSON.parse(result.body) as Echo;
      assert.is(echo.vars.SERVER_PROTOCOL, 'HTTP/1.0');
      assert.is(echo.vars.HTTP_CONNECTION, 'close');
      assert.is(echo.vars.HTTP_HOST, `127.0.0.1:${upstream}`);
      assert.is(echo.vars.REQUEST_URI, `/plain/${i}?i=${i}`);
      assert.is(echo.vars.PATH_INFO, `/plain/${i}`);
      assert.is(echo.vars.QUERY_STRING, `i=${i}`);
      plainPorts.add(echo.vars.REMOTE_PORT!);
    }
    assert.is(plainPorts.size, 10, 'HTTP/1.0 proxying opens one upstream connection per request');
    const big = randomBytes(200 * 1024);
    const bigPost = await agentRequest(plain, '/plain/upload', false, big);
    assert.is(bigPost.status, 200, bigPost.body);
    assert.equal((JSON.parse(bigPost.body) as Echo).body, { length: big.length, sha1: sha1(big) });

    // HTTP/1.1 with a keepalive pool: many requests (GETs with POSTs in between, some in
    // parallel) over reused upstream connections, every one a 200 with the right answer.
    const pooledPorts: string[] = [];
    const check = async (i: number) => {
      const body = i % 5 === 0 ? randomBytes(1000 + i * 997) : undefined;
      const result = await agentRequest(pooled, `/pooled/${i}`, agent, body);
      assert.is(result.status, 200, `request ${i}: ${result.body}`);
      const echo = JSON.parse(result.body) as Echo;
      assert.is(echo.vars.SERVER_PROTOCOL, 'HTTP/1.1', `request ${i}`);
      assert.is(echo.vars.HTTP_CONNECTION, undefined, `request ${i}: proxy_set_header Connection "" removes it`);
      assert.is(echo.vars.REQUEST_URI, `/pooled/${i}`);
      assert.equal(echo.body, body ? { length: body.length, sha1: sha1(body) } : { length: 0, sha1: sha1(Buffer.alloc(0)) }, `request ${i} body`);
      pooledPorts.push(echo.vars.REMOTE_PORT!);
    };
    let i = 0;
    for (; i < 100; i++) await check(i);
    const sequentialPorts = new Set(pooledPorts).size;
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(Array.from({ length: 8 }, () => check(i++)));
    }
    assert.is(pooledPorts.length, 180);
    assert.ok(sequentialPorts <= 2, `100 sequential requests reused upstream connections (${sequentialPorts} distinct)`);
    assert.ok(new Set(pooledPorts).size <= 16 + 2, `the pool stayed within keepalive 16 (+ a few): ${new Set(pooledPorts).size} connections`);
    assert.equal(nginxErrors(nginx), [], 'nginx logged no upstream errors');
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- tsgi log:\n${server?.log().slice(-4000) ?? ''}\n--- nginx error log:\n${nginx?.errorLog() ?? ''}`);
  } finally {
    agent.destroy();
    await stopAll(server, nginx);
  }
});

test('uWSGI --http router --http-to @name → tsgi --socket @name (same abstract address as uWSGI)', async () => {
  const pluginArgs = uwsgiHttpPluginArgs(); // throws (with the install hint) when uWSGI is missing
  const name = `tsgi-test-${process.pid}-${randomBytes(3).toString('hex')}`;
  const port = await pickPort();
  let server: Server | undefined;
  let uwsgi: Peer | undefined;
  try {
    server = await tsgi(['--socket', `@${name}`, '--module', 'myapp'], APPS);
    // ss shows an abstract name with its NULs as '@': uWSGI's address "\0name\0" reads @name@.
    const ss = spawnSync('ss', ['-xlH'], { encoding: 'utf8' });
    if (ss.error) throw new Error(`ss failed (${ss.error.message}): ${INSTALL_HINT}`);
    const listed = ss.stdout.split(/\s+/).filter((token) => token.includes(name));
    assert.equal(listed, [`@${name}@`], 'tsgi listens on exactly "\\0name\\0"');
    uwsgi = await startUwsgi([...pluginArgs, '--http', `127.0.0.1:${port}`, '--http-to', `@${name}`, '--master'], { port });
    for (let i = 0; i < 3; i++) {
      const result = await httpGet({ port }, `/hello?i=${i}`);
      assert.is(result.status, 200, `uWSGI router answered ${result.status}: ${result.body}`);
      assert.is(result.body, '<h1>Hello World</h1>');
      assert.is(result.headers['content-type'], 'text/html');
    }
    const stop = await uwsgi.stop(10_000);
    assert.is(stop, 0, `uWSGI exits cleanly on SIGINT:\n${uwsgi.output().slice(-2000)}`);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- tsgi log:\n${server?.log() ?? ''}\n--- uWSGI log:\n${uwsgi?.output().slice(-3000) ?? ''}`);
  } finally {
    await stopAll(server, uwsgi);
  }
});

test('nginx uwsgi_pass unix:@name cannot reach tsgi --socket @name (502, ENOENT), as the README warns', async () => {
  const name = `tsgi-nginx-${process.pid}`;
  const port = await pickPort();
  let server: Server | undefined;
  let nginx: Nginx | undefined;
  try {
    server = await tsgi(['--socket', `@${name}`, '--module', 'env-echo']);
    nginx = await startNginx({
      ports: [port],
      http: `    server {
        listen 127.0.0.1:${port};
        location / {
            include ${nginxUwsgiParamsPath()};
            uwsgi_pass unix:@${name};
        }
    }`,
    });
    const result = await exchange(port, requestHead('GET', '/', [['Host', 'abstract.test'], ['Connection', 'close']]));
    assert.is(result.status, 502, 'nginx looks for a file named @name, not the abstract socket');
    assert.match(nginx.errorLog(), /connect\(\) to unix:@.* failed \(2: No such file or directory\)/);
    const readme = readFileSync(join(APPS, '..', 'README.md'), 'utf8');
    assert.match(readme, /Give nginx TCP or a unix path, not an `@abstract` socket/, 'the README says so');
  } finally {
    await stopAll(server, nginx);
  }
});

test.run();
