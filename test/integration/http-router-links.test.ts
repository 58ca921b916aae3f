/**
 * Links: the HTTP router in front of its own instance's workers keeps each uwsgi connection for
 * the next request when the response is framed by its Content-Length (a tsgi-only use of the
 * uwsgi protocol, modifier2 LINK_MODIFIER2). What must hold: the same connection carries many
 * requests; whatever ends a link (a streamed body, HEAD, 204, a body the app did not read, a
 * reload) never mixes one response into another; and a link pins no request to a busy worker
 * while another worker has a free core.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describe, get, post, RawConn, useHttpPort, withConn } from '../helpers/http-raw.js';
import { pickPort } from '../helpers/ports.js';
import { FIXTURE_APPS, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';

/** The inodes of the workers' ends of established connections on `socketPath` (ss -x). */
function linkInodes(socketPath: string): string[] {
  const ss = spawnSync('ss', ['-xnH', 'state', 'established'], { encoding: 'utf8' });
  return ss.stdout.split('\n').filter((line) => line.includes(` ${socketPath} `)).map((line) => line.trim().split(/\s+/)[4]!).sort();
}

async function instance(extra: string[] = []): Promise<{ server: Server; port: number; socketPath: string }> {
  const port = await pickPort();
  useHttpPort(port);
  const socketPath = join(tempDir(), 'workers.sock');
  const server = await startTsgi(['--http', `127.0.0.1:${port}`, '--http-keepalive', '--socket', socketPath, '--processes', '2', '--chdir', FIXTURE_APPS, '--module', 'http-router-node', ...extra], { ready: /all 2 workers ready/ });
  await server.waitFor(/http router ready/);
  return { server, port, socketPath };
}

test('one client, 100 requests one after another: one link carries them all', async () => {
  const { server, socketPath } = await instance();
  try {
    await withConn(async (conn) => {
      await conn.write(get('/who'));
      assert.is((await conn.response()).status, 200);
      const first = linkInodes(socketPath);
      assert.is(first.length, 1, `one link after the first request: ${first}`);
      for (let i = 0; i < 100; i++) {
        await conn.write(get(`/echo-${i}`));
        const response = await conn.response();
        assert.is(response.body.toString().split(' ')[0], `/echo-${i}`, describe(response.raw));
      }
      assert.equal(linkInodes(socketPath), first, 'the same connection to the workers');
    });
  } finally {
    await server.stop();
  }
});

test('what ends a link never mixes responses: streamed, HEAD, 204, a 500, an unread body, a 413, each followed by plain requests', async () => {
  const { server } = await instance(['--async', '4', '--limit-post', '300000']);
  try {
    await withConn(async (conn) => {
      const sequence: Array<[string | Buffer, (response: Awaited<ReturnType<RawConn['response']>>) => void]> = [
        [get('/stream?n=3&gap=0'), (r) => assert.is(r.body.toString(), 'chunk 0\nchunk 1\nchunk 2\n')],
        [get('/a'), (r) => assert.match(r.body.toString(), /^\/a 0 /)],
        [`HEAD /who HTTP/1.1\r\nHost: x\r\n\r\n`, (r) => assert.is(r.body.length, 0)],
        [get('/b'), (r) => assert.match(r.body.toString(), /^\/b 0 /)],
        [get('/no-content'), (r) => assert.is(r.status, 204)],
        [get('/throw'), (r) => assert.is(r.status, 500)],
        [get('/c'), (r) => assert.match(r.body.toString(), /^\/c 0 /)],
        [post('/ignore-body', Buffer.alloc(200_000, 'x')), (r) => assert.is(r.body.toString(), 'ignored 200000')],
        [get('/d'), (r) => assert.match(r.body.toString(), /^\/d 0 /)],
        [post('/upload', 'hello'), (r) => assert.match(r.body.toString(), /^\/upload 5 aaf4c61d/)],
        [get('/e'), (r) => assert.match(r.body.toString(), /^\/e 0 /)],
      ];
      for (const [request, check] of sequence) {
        await conn.write(request);
        const head = typeof request === 'string' && request.startsWith('HEAD');
        const response = await conn.response(head ? { head: true } : undefined);
        check(response);
      }
      // An error answer ends the link (and, as it says Connection: close, this client connection).
      await conn.write(post('/too-large', Buffer.alloc(400_000, 'y')));
      assert.is((await conn.response()).status, 413);
    });
    for (let i = 0; i < 5; i++) {
      await withConn(async (conn) => {
        await conn.write(get(`/after-${i}`));
        assert.match((await conn.response()).body.toString(), new RegExp(`^/after-${i} 0 `));
      });
    }
  } finally {
    await server.stop();
  }
});

test('a link pins nothing to a busy worker: with one core each, a request while the other worker sleeps is answered at once', async () => {
  const { server } = await instance();
  try {
    // Links to both workers first, then one worker busy for 3 s.
    await Promise.all([0, 1, 2, 3].map(() => withConn(async (conn) => {
      await conn.write(get('/who'));
      await conn.response();
    })));
    const slow = withConn(async (conn) => {
      await conn.write(get('/slow?s=3'));
      return conn.response();
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      await withConn(async (conn) => {
        await conn.write(get('/who'));
        assert.is((await conn.response()).status, 200);
      });
      assert.ok(Date.now() - started < 1500, `request ${i} waited ${Date.now() - started} ms for the busy worker`);
    }
    assert.is((await slow).body.toString(), 'slow');
  } finally {
    await server.stop();
  }
});

test('a reload under load: links of stopping workers close, no GET fails', async () => {
  const { server, port } = await instance(['--async', '4']);
  try {
    let failed = 0;
    let served = 0;
    let running = true;
    // As an HTTP client does, a request that met a keep-alive connection the router was closing (nothing came back) is sent again.
    const client = async () => {
      while (running) {
        const conn = await RawConn.open({ port });
        try {
          for (let i = 0; i < 20 && running; i++) {
            await conn.write(get('/who'));
            const response = await conn.response().catch((error: Error) => (/before a whole response; got 0 bytes/.test(error.message) ? null : Promise.reject(error)));
            if (response === null) break;
            if (response.status === 200) served++;
            else failed++;
          }
        } finally {
          conn.destroy();
        }
      }
    };
    const clients = Array.from({ length: 8 }, client);
    await new Promise((resolve) => setTimeout(resolve, 500));
    process.kill(server.pid, 'SIGHUP');
    await server.waitFor(/(generation 0 retired[\s\S]*){3}/, 20_000); // both workers and the router replaced
    await new Promise((resolve) => setTimeout(resolve, 500));
    running = false;
    await Promise.all(clients);
    assert.is(failed, 0, `${failed} failed of ${served + failed}`);
    assert.ok(served > 100, `served ${served}`);
  } finally {
    await server.stop();
  }
});

test.run();
