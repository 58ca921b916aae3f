/**
 * Limits (semantics.md §13): --limit-post refuses a too large body with 413 on every protocol
 * before the app runs; --limit-as and --max-fd are set in each worker (read back from
 * /proc/PID/limits) and a --limit-as Node cannot start within fails clearly; a --listen above
 * net.core.somaxconn is logged.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FIXTURE_APPS, httpGet, runTsgi, startTsgi } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';
import { collectResult, decodeRecords, encodeBeginRequest, encodeNameValues, encodeRecord, nginxLikeFastcgiParams, TYPE } from '../helpers/fastcgi-client.js';
import { encodeUwsgiPacket, nginxLikeVars, parseRawHttpResponse } from '../helpers/uwsgi-client.js';

/** Sends `bytes` and collects everything the server sends until it closes. */
function exchange(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no close within 10 s after ${Buffer.concat(chunks).length} bytes`)));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
  });
}

/** The first field of a line of /proc/PID/limits ("Max open files  2048  2048  files"). */
function procLimit(pid: number, name: string): [string, string] {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((candidate) => candidate.startsWith(name));
  if (line === undefined) throw new Error(`no ${name} in /proc/${pid}/limits`);
  const [soft, hard] = line.slice(name.length).trim().split(/\s+/);
  return [soft!, hard!];
}

function workerPid(body: string): number {
  return Number(/^pid (\d+) /.exec(body)?.[1]);
}

test('--limit-post: 413 on HTTP, uwsgi and FastCGI before the app runs; a body within the limit is served', async () => {
  const [http, uwsgi, fastcgi] = [await pickPort(), await pickPort(), await pickPort()];
  const server = await startTsgi(['--http-socket', `127.0.0.1:${http}`, '--socket', `127.0.0.1:${uwsgi}`, '--fastcgi-socket', `127.0.0.1:${fastcgi}`,
    '--module', 'recycling', '--limit-post', '1000'], { cwd: FIXTURE_APPS });
  try {
    const within = await httpGet({ port: http }, '/body', { method: 'POST', body: 'x'.repeat(1000) });
    assert.is(within.status, 200);
    assert.is(within.body, 'read 1000 bytes');
    await server.waitFor(/app got POST \/body \(CONTENT_LENGTH 1000\)/);

    // Only the heads: a client (or nginx) waiting for an answer before it sends the body.
    const overHttp = (await exchange(http, Buffer.from(`POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n`, 'latin1'))).toString('latin1');
    assert.match(overHttp, /^HTTP\/1\.1 413 Request Entity Too Large\r\n/);

    const overUwsgi = parseRawHttpResponse(await exchange(uwsgi, encodeUwsgiPacket(nginxLikeVars('POST', '/body', { headers: [['Content-Length', '50000']] }))));
    assert.is(overUwsgi.status, 413);

    const params = nginxLikeFastcgiParams('POST', '/body', [['Host', 'localhost'], ['Content-Length', '50000']]);
    const records = Buffer.concat([encodeBeginRequest(1), encodeRecord(TYPE.PARAMS, 1, encodeNameValues(params)), encodeRecord(TYPE.PARAMS, 1)]);
    const overFastcgi = collectResult(decodeRecords(await exchange(fastcgi, records)).records, 1);
    assert.is(overFastcgi.status, 413);

    // The client may have its 413 before the server's log line is out.
    await server.waitFor(/http: closing connection from 127\.0\.0\.1: TSGI_ERR_LIMIT_POST: CONTENT_LENGTH 1001 exceeds --limit-post 1000/);
    await server.waitFor(/uwsgi: connection fd \d+: TSGI_ERR_LIMIT_POST: CONTENT_LENGTH 50000 exceeds --limit-post 1000: answered 413 without running the app/);
    await server.waitFor(/fastcgi: connection from \S+: TSGI_ERR_LIMIT_POST: CONTENT_LENGTH 50000 exceeds --limit-post 1000: answered 413 without running the app/);
    const log = server.log();
    assert.is(log.match(/app got/g)?.length, 1, `the app saw a refused request:\n${log}`);
  } finally {
    await server.stop();
  }
});

test('--limit-post: a chunked HTTP body is cut off with 413 where it passes the limit', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'recycling', '--limit-post', '1000'], { cwd: FIXTURE_APPS });
  try {
    const chunk = `258\r\n${'y'.repeat(600)}\r\n`; // 0x258 = 600 bytes, twice: 1200 > 1000
    const response = await exchange(port, Buffer.from(`POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}${chunk}`, 'latin1'));
    assert.match(response.toString('latin1'), /^HTTP\/1\.1 413 Request Entity Too Large\r\n/, server.log());
    await server.waitFor(/TSGI_ERR_LIMIT_POST: the chunked body passed --limit-post 1000 \(1200 bytes so far\)/);
  } finally {
    await server.stop();
  }
});

test('--limit-as and --max-fd are set in every worker (/proc/PID/limits)', async () => {
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'recycling', '--master', '--processes', '2', '--limit-as', '4096', '--max-fd', '2000'],
    { cwd: FIXTURE_APPS, ready: /all 2 workers ready/ });
  try {
    const pids = new Set<number>();
    for (let i = 0; i < 40 && pids.size < 2; i++) pids.add(workerPid((await httpGet({ port }, '/')).body));
    assert.ok(pids.size >= 1);
    for (const pid of pids) {
      assert.equal(procLimit(pid, 'Max address space'), [String(4096 * 1024 * 1024), String(4096 * 1024 * 1024)]);
      assert.equal(procLimit(pid, 'Max open files'), ['2000', '2000']);
    }
    assert.is.not(procLimit(server.pid, 'Max address space')[0], String(4096 * 1024 * 1024), 'the master keeps its own limits');
  } finally {
    assert.is(await server.stop(), 0);
  }
});

test('a --limit-as Node cannot start within stops the instance with TSGI_ERR_LIMIT_AS naming the option', async () => {
  const { code, output } = await runTsgi(['--http-socket', '127.0.0.1:0', '--module', 'recycling', '--master', '--limit-as', '300'], { cwd: FIXTURE_APPS });
  assert.is(code, 1);
  assert.match(output, /worker 1: TSGI_ERR_LIMIT_AS: --limit-as 300 is below the \d+ MB of address space this worker \(pid \d+\) already reserved/);
});

test('a --listen above net.core.somaxconn is logged with the cap the kernel applies', async () => {
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
  if (somaxconn >= 65535) return; // --listen cannot exceed it here
  const port = await pickPort();
  const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'recycling', '--listen', String(somaxconn + 1)], { cwd: FIXTURE_APPS });
  try {
    assert.match(server.log(), new RegExp(`--listen ${somaxconn + 1} exceeds net.core.somaxconn ${somaxconn}: the kernel caps the queue at ${somaxconn}`));
    assert.is((await httpGet({ port }, '/')).status, 200);
  } finally {
    await server.stop();
  }
});

test.run();
