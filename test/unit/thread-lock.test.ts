/**
 * The shared lock with worker_threads (runtime/shared/lock.ts): owner words carry the thread
 * (pid + thread × 2^22), real threads of this process exclude each other, and a thread that
 * dies inside the critical section is reaped by its owner id (as threads/pool.ts does) or,
 * with a plain pid, together with every other thread of that process.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { lockOwnerId, SharedLock } from '../../runtime/shared/lock.js';
import { createRegion } from '../../runtime/shared/region.js';

const region = createRegion({ locks: 4096 }, 'tsgi-test-thread-lock');
const area = region.area('locks');
const LOCK_URL = new URL('../../runtime/shared/lock.js', import.meta.url).href;
const REGION_URL = new URL('../../runtime/shared/region.js', import.meta.url).href;

/** A worker_thread that maps the region again, keys its locks by `thread`, and runs `body`. */
function thread(threadId: number, body: string): Promise<{ code: number; messages: unknown[] }> {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    (async () => {
      const { SharedLock, setLockThread } = await import(${JSON.stringify(LOCK_URL)});
      const { mapRegion } = await import(${JSON.stringify(REGION_URL)});
      setLockThread(workerData.thread);
      const region = mapRegion(workerData.fd, { locks: 4096 });
      const area = region.area('locks');
      const lock = new SharedLock(area.buffer, area.byteOffset);
      const words = new Int32Array(area.buffer, area.byteOffset + 64, 1);
      ${body}
    })();`;
  const worker = new Worker(source, { eval: true, workerData: { fd: region.fd, thread: threadId } });
  const messages: unknown[] = [];
  worker.on('message', (message) => messages.push(message));
  return new Promise((resolve) => worker.on('exit', (code) => resolve({ code, messages })));
}

test('owner ids: thread 0 is the plain pid, other threads sit above the pid bits', () => {
  assert.is(lockOwnerId(1234, 0), 1234);
  assert.is(lockOwnerId(1234, 1), 1234 + 4194304);
  assert.ok(lockOwnerId(4194303, 256) < 2 ** 31, 'fits a positive Int32 for every --threads');
});

test('three threads of this process each add 20,000 times under the lock: no update lost, each wrote its own owner id', async () => {
  const counter = new Int32Array(area.buffer, area.byteOffset + 64, 1);
  counter[0] = 0;
  const results = await Promise.all([1, 2, 3].map((id) => thread(id, `
    for (let i = 0; i < 20000; i++) {
      lock.acquire();
      if (i === 0) parentPort.postMessage(lock.pid);
      words[0] = words[0] + 1; // not atomic: only the lock keeps it exact
      lock.release();
    }
  `)));
  assert.is(counter[0], 60000);
  assert.equal(results.map((result) => result.messages[0]), [1, 2, 3].map((id) => lockOwnerId(process.pid, id)));
});

test('a thread that exits holding the lock: its process is alive, so only reaping its owner id frees it, flagged for repair', async () => {
  const lock = new SharedLock(area.buffer, area.byteOffset);
  const { code } = await thread(5, 'lock.acquire(); process.exit(7);');
  assert.is(code, 7);
  assert.is(lock.owner, lockOwnerId(process.pid, 5), 'still held by the dead thread');
  assert.is(lock.tryAcquire(), null, 'no one else gets it while its process lives');
  assert.not.ok(lock.reap(lockOwnerId(process.pid, 6)), 'another thread\'s id reaps nothing');
  assert.ok(lock.reap(lockOwnerId(process.pid, 5)));
  assert.is(lock.acquire(), true, 'the next holder is told to repair');
  lock.repaired();
  lock.release();
});

test('reaping a plain pid takes the lock from whichever of that process\'s threads holds it', async () => {
  const lock = new SharedLock(area.buffer, area.byteOffset);
  await thread(9, 'lock.acquire(); process.exit(0);');
  assert.ok(lock.reap(process.pid));
  assert.is(lock.owner, 0);
  lock.acquire();
  lock.repaired();
  lock.release();
});

test.after(() => region.close());
test.run();
