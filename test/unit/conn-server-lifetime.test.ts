/**
 * native.ConnServer's lifetime: the event loop, GC, worker-thread exit, throwing callbacks and
 * EMFILE, each in a fresh node process where it matters.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { collect, connected, NATIVE_URL, runNode, waitFor } from '../helpers/conn-server.js';

// --- lifetime ----------------------------------------------------------------------------------

test('keeps the loop alive while started (unless unref) and while connections are open', () => {
  const started = runNode(`const fd = native.listenTcp('127.0.0.1', 0, 8);
    new ConnServer(fd, () => {}, () => {}).start();`, { timeout: 700 });
  assert.is(started.signal, 'SIGTERM', 'a started server keeps the process running');

  const unrefd = runNode(`const fd = native.listenTcp('127.0.0.1', 0, 8);
    const s = new ConnServer(fd, () => {}, () => {}); s.start(); s.unref();
    process.on('exit', () => console.log('exited'));`);
  assert.is(unrefd.status, 0, unrefd.stderr);
  assert.is(unrefd.stdout.trim(), 'exited');

  // Closed inside onData with the connection still open: the process lives until end().
  const closed = runNode(`import net from 'node:net';
    const fd = native.listenTcp('127.0.0.1', 0, 8);
    const { port } = native.localAddress(fd);
    new ConnServer(fd, function (conn, chunk) {
      if (chunk?.length === 0) return; // accepted before the client spoke
      if (chunk === null) return;
      this.close();
      native.close(fd);
      this.pauseReading(conn); // no poll on it now: only the open connection itself holds the loop
      setTimeout(() => {
        console.log('open', this.connections);
        this.write(conn, Buffer.from('bye'));
        this.end(conn);
        client.ref();
      }, 100).unref();
    }, () => {}).start();
    const client = net.connect(port, '127.0.0.1', () => client.write('hi'));
    client.on('data', (d) => console.log('client got', d.toString()));
    client.on('end', () => { console.log('end'); client.destroy(); });
    client.unref();
    process.on('exit', () => console.log('exited'));`);
  assert.is(closed.status, 0, closed.stderr);
  assert.equal(closed.stdout.trim().split('\n'), ['open 1', 'client got bye', 'end', 'exited']);
});

test('GC: an unstarted or closed server is collected (its dup closed) even when its callbacks reference it', () => {
  const child = runNode(`const { readdirSync } = await import('node:fs');
    const fds = () => readdirSync('/proc/self/fd').length;
    const fd = native.listenTcp('127.0.0.1', 0, 8);
    const before = fds();
    for (let i = 0; i < 100; i++) { const s = new ConnServer(fd, () => s.connections, () => s); if (i % 2) { s.start(); s.close(); } }
    const during = fds();
    for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((ok) => setTimeout(ok, 10)); }
    console.log(during - before >= 50, fds() - before);`, { flags: ['--expose-gc'] });
  assert.is(child.status, 0, child.stderr);
  assert.is(child.stdout.trim(), 'true 0');
});

test('a worker thread exiting with open connections does not crash the process', () => {
  const inWorker = (code: string) => `import(${JSON.stringify(NATIVE_URL)}).then(async ({ native, ConnServer }) => {
    const net = await import('node:net');
    const { parentPort } = await import('node:worker_threads');
    const fd = native.listenTcp('127.0.0.1', 0, 8);
    const { port } = native.localAddress(fd);
    let queued = false;
    const server = new ConnServer(fd, function (conn, chunk) {
      if (chunk?.length === 0) return; // accepted before the client spoke
      if (chunk === null || queued) return;
      queued = !this.write(conn, Buffer.alloc(16 << 20)); // a client that never reads: stays queued
      ${code}
    }, () => {});
    server.start();
    const client = net.connect(port, '127.0.0.1', () => client.write('x'));
    client.pause();
  });`;
  const workers = runNode(`import { Worker } from 'node:worker_threads';
    const run = (code) => new Promise((done) => new Worker(code, { eval: true })
      .on('message', function (m) { console.log(m); this.terminate(); }).on('exit', done));
    console.log(await run(${JSON.stringify(inWorker("parentPort.postMessage('queued ' + queued + ' ' + this.connections);"))}));
    console.log(await run(${JSON.stringify(inWorker('process.exit(7);'))}));`, { bare: true, timeout: 20000 });
  assert.is(workers.signal, null, workers.stderr);
  assert.is(workers.status, 0, workers.stderr);
  assert.equal(workers.stdout.trim().split('\n'), ['queued true 1', '1', '7'], 'terminated, process.exit');
});

test('a throwing onData becomes an uncaughtException and the connection stays usable', () => {
  const child = runNode(`import net from 'node:net';
    const fd = native.listenTcp('127.0.0.1', 0, 8);
    const { port } = native.localAddress(fd);
    process.on('uncaughtException', (e) => console.log('caught', e.message));
    let calls = 0;
    const server = new ConnServer(fd, function (conn, chunk) {
      if (chunk?.length === 0) return; // accepted before the client spoke
      if (chunk === null) return;
      if (calls++ === 0) throw new Error('boom');
      this.write(conn, Buffer.from('after ' + chunk.toString())); this.end(conn); this.close();
    }, () => {});
    server.start();
    const client = net.connect(port, '127.0.0.1', () => client.write('one'));
    client.on('data', (d) => console.log(d.toString()));
    setTimeout(() => client.write('two'), 100);`);
  assert.is(child.status, 0, child.stderr);
  assert.equal(child.stdout.trim().split('\n'), ['caught boom', 'after two']);
});

test('EMFILE: accepting backs off (no busy loop) and resumes once fds are free', async () => {
  const script = `import { native, ConnServer } from ${JSON.stringify(NATIVE_URL)};
    const fd = native.listenTcp('127.0.0.1', 0, 8);
    const { port } = native.localAddress(fd);
    const spare = [];
    let servedAt = 0;
    const server = new ConnServer(fd, function (conn, chunk) {
      if (chunk?.length === 0) return; // accepted before the client spoke
      if (chunk === null) return;
      servedAt = Date.now();
      this.write(conn, Buffer.from('served')); this.end(conn); this.close();
    }, () => {});
    server.start();
    for (;;) { try { spare.push(native.dup(fd)); } catch { break; } }
    console.log(JSON.stringify({ port }));
    process.stdin.once('data', () => {
      const cpu = process.cpuUsage();
      setTimeout(() => {
        const used = process.cpuUsage(cpu);
        for (const s of spare) native.close(s);
        const freedAt = Date.now();
        setTimeout(() => { console.log(JSON.stringify({ cpuMs: (used.user + used.system) / 1000, servedAfter: servedAt - freedAt })); process.exit(0); }, 400);
      }, 300);
    });`;
  const child = spawn('sh', ['-c', `ulimit -n 256 && exec "${process.execPath}" --input-type=module -e '${script.replace(/'/g, `'\\''`)}'`], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    lines.push(...parts);
  });
  const exited = new Promise((resolve) => child.on('close', resolve));
  await waitFor(() => lines.length >= 1, 'the child to fill its fd table');
  const { port } = JSON.parse(lines[0]!) as { port: number };
  const client = net.connect(port, '127.0.0.1');
  const result = collect(client);
  await connected(client);
  client.write('x');
  child.stdin.write('go\n');
  await exited;
  assert.is((await result).data.toString(), 'served');
  const { cpuMs, servedAfter } = JSON.parse(lines[1]!) as { cpuMs: number; servedAfter: number };
  assert.ok(cpuMs < 100, `${cpuMs} ms of CPU in 300 ms at EMFILE: no busy loop`);
  assert.ok(servedAfter >= 0 && servedAfter < 250, `served ${servedAfter} ms after fds were freed`);
});

test.run();
