/**
 * The shared queue (runtime/shared/queue.ts): uWSGI's exact push/pop/pull/get/set/last/slot
 * semantics (uWSGI's core/queue.c), and real processes sharing one queue.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { queueAreaSize, SharedQueue, type QueueOptions } from '../../runtime/shared/queue.js';
import { createRegion, type Region } from '../../runtime/shared/region.js';
import { checkValue, spawnChild } from '../helpers/shared-child.js';
import { throwsCode } from '../helpers/assertions.js';

function makeQueue(options: QueueOptions): { region: Region; queue: SharedQueue; layout: { queue: number } } {
  const layout = { queue: queueAreaSize(options) };
  const region = createRegion(layout, 'tsgi-test-queue');
  return { region, queue: SharedQueue.format(region.area('queue'), options), layout };
}

const text = (value: Buffer | null) => (value === null ? null : value.toString());
const texts = (values: Array<Buffer | null>) => values.map(text);


test('push + pull is FIFO; pull on an empty slot returns null and does not move pull_pos', () => {
  const { queue, region } = makeQueue({ slots: 4, blocksize: 1024 });
  assert.is(queue.size, 4);
  assert.equal([queue.slot(), queue.pullSlot()], [0, 0]);
  assert.is(queue.pull(), null);
  assert.is(queue.pullSlot(), 0);
  assert.ok(queue.push('a'));
  assert.ok(queue.push('b'));
  assert.ok(queue.push('c'));
  assert.equal([queue.slot(), queue.pullSlot()], [3, 0]);
  assert.is(text(queue.pull()), 'a');
  assert.is(text(queue.pull()), 'b');
  assert.is(queue.pullSlot(), 2);
  assert.is(text(queue.pull()), 'c');
  assert.is(queue.pull(), null);
  assert.equal([queue.slot(), queue.pullSlot()], [3, 3]);
  assert.ok(queue.push('d'));
  assert.is(queue.slot(), 0, 'pos wraps to 0 after slot N−1');
  assert.is(text(queue.pull()), 'd');
  assert.is(queue.pullSlot(), 0, 'pull_pos wraps too');
  region.close();
});

test('pop is LIFO; on an empty slot it returns null but still moves pos back (wrapping to N−1)', () => {
  const { queue, region } = makeQueue({ slots: 4, blocksize: 1024 });
  queue.push('a');
  queue.push('b');
  queue.push('c');
  assert.is(text(queue.pop()), 'c');
  assert.is(text(queue.pop()), 'b');
  assert.is(queue.slot(), 1);
  assert.is(text(queue.pop()), 'a');
  assert.is(queue.slot(), 0);
  assert.is(queue.pop(), null);
  assert.is(queue.slot(), 3, 'pos 0 − 1 wraps to N−1 even though nothing was there');
  assert.is(queue.pop(), null);
  assert.is(queue.slot(), 2);
  assert.ok(queue.push('x'), 'push writes at the moved pos');
  assert.is(text(queue.get(2)), 'x');
  assert.is(queue.slot(), 3);
  region.close();
});

test('circular and overwriting: no full check, the oldest messages are replaced', () => {
  const { queue, region } = makeQueue({ slots: 4, blocksize: 1024 });
  for (const message of ['a', 'b', 'c', 'd', 'e', 'f']) assert.ok(queue.push(message));
  assert.equal(texts([0, 1, 2, 3].map((i) => queue.get(i))), ['e', 'f', 'c', 'd']);
  assert.is(queue.slot(), 2);
  assert.equal(texts([queue.pull(), queue.pull(), queue.pull(), queue.pull(), queue.pull()]), ['e', 'f', 'c', 'd', null],
    'pull starts at pull_pos 0, whatever was overwritten');
  assert.is(queue.pullSlot(), 0);
  region.close();
});

test('get and set: by index, pointers untouched; out of range → null / false', () => {
  const { queue, region } = makeQueue({ slots: 4, blocksize: 1024 });
  assert.is(queue.get(0), null, 'empty slot');
  assert.ok(queue.set(2, 'two'));
  assert.equal([queue.slot(), queue.pullSlot()], [0, 0], 'set moves no pointer');
  assert.is(text(queue.get(2)), 'two');
  assert.is(text(queue.get(2)), 'two', 'get does not remove');
  assert.is(queue.get(4), null);
  assert.is(queue.get(-1), null, 'a negative index is out of range (uWSGI casts it to a huge uint64)');
  assert.is(queue.set(4, 'x'), false);
  assert.is(queue.set(-1, 'x'), false);
  assert.ok(queue.set(2, 'again'), 'set overwrites');
  assert.is(text(queue.get(2)), 'again');
  queue.push('p0');
  queue.push('p1');
  assert.is(text(queue.pop()), 'p1');
  assert.is(text(queue.pop()), 'p0');
  assert.is(queue.pop(), null, 'slot 3 (pos wrapped) is empty');
  assert.is(text(queue.pop()), 'again', 'pop walks on into whatever set put in slot 2');
  throwsCode(() => queue.get(1.5), 'TSGI_ERR_API_ARGUMENT');
  throwsCode(() => queue.set('1' as unknown as number, 'x'), 'TSGI_ERR_API_ARGUMENT');
  region.close();
});

test('last: newest item, or a list walking backwards with nulls, capped at N; never removes', () => {
  const { queue, region } = makeQueue({ slots: 4, blocksize: 1024 });
  assert.is(queue.last(), null, 'slot N−1 is empty');
  assert.equal(queue.last(2), [null, null]);
  queue.push('a');
  queue.push('b');
  assert.is(text(queue.last()), 'b');
  assert.is(text(queue.last(0)), 'b');
  assert.equal(texts(queue.last(3) as Array<Buffer | null>), ['b', 'a', null]);
  assert.equal(texts(queue.last(10) as Array<Buffer | null>), ['b', 'a', null, null], 'at most N items');
  assert.equal(texts(queue.last(1) as Array<Buffer | null>), ['b'], 'n = 1 is a list of one');
  assert.is(text(queue.pull()), 'a', 'nothing was removed');
  assert.is(queue.slot(), 2);
  throwsCode(() => queue.last(-1), 'TSGI_ERR_API_ARGUMENT');
  region.close();
});

test('messages: binary-safe, at most blocksize − 16 bytes, never empty', () => {
  const { queue, region } = makeQueue({ slots: 4, blocksize: 1024 });
  assert.is(queue.maxMessage, 1008);
  const binary = Buffer.from([0, 255, 0, 1]);
  assert.ok(queue.push(binary));
  assert.ok(queue.pull()!.equals(binary));
  assert.ok(queue.push(Buffer.alloc(1008, 7)), 'blocksize − 16 fits');
  assert.is(queue.push(Buffer.alloc(1009, 7)), false, 'one more byte does not');
  assert.is(queue.push('é'.repeat(505)), false, '1010 UTF-8 bytes');
  assert.is(queue.push(''), false);
  assert.is(queue.push(new Uint8Array(0)), false);
  assert.is(queue.set(0, Buffer.alloc(1009)), false);
  assert.is(queue.slot(), 2, 'refused pushes move nothing');
  assert.is(queue.pull()!.length, 1008);
  assert.ok(queue.push('snow ☃'));
  assert.is(text(queue.pull()), 'snow ☃');
  throwsCode(() => queue.push(3 as unknown as string), 'TSGI_ERR_API_ARGUMENT');
  region.close();
});

test('sizes: slots × blocksize must be a multiple of the page size, as uWSGI requires', () => {
  throwsCode(() => queueAreaSize({ slots: 10, blocksize: 1000 }), 'TSGI_ERR_OPT_VALUE');
  throwsCode(() => queueAreaSize({ slots: 0 }), 'TSGI_ERR_OPT_VALUE');
  throwsCode(() => queueAreaSize({ slots: 256, blocksize: 16 }), 'TSGI_ERR_OPT_VALUE');
  assert.ok(queueAreaSize({ slots: 1 }) >= 8192, 'default blocksize 8192');
  assert.ok(queueAreaSize({ slots: 64, blocksize: 64 }) > 4096);
});

test('processes share one queue: two producers, in order and complete; pull across processes', async () => {
  const options = { slots: 4096, blocksize: 64 };
  const { queue, region, layout } = makeQueue(options);
  const children = await Promise.all([0, 1].map(() => spawnChild(region.fd, { layout, queue: options })));
  try {
    await Promise.all(children.map((child, i) => child.call('push-many', `p${i}`, 1500)));
    const next = [0, 0];
    let total = 0;
    for (let message = queue.pull(); message !== null; message = queue.pull()) {
      const [tag, n] = message.toString().split(':');
      const producer = Number(tag!.slice(1));
      assert.is(Number(n), next[producer], `producer ${producer}'s messages arrive in order`);
      next[producer]!++;
      total++;
    }
    assert.equal(next, [1500, 1500]);
    assert.is(total, 3000);

    assert.ok(queue.push(Buffer.from([9, 0, 9])));
    assert.ok((await children[0]!.call<Buffer>('queue', 'pull')).equals(Buffer.from([9, 0, 9])));
    assert.is(await children[1]!.call('queue', 'pull'), null, 'pulled once, by one process');
    assert.is(await children[1]!.call('queue', 'slot'), queue.slot());
    assert.is(await children[1]!.call('queue', 'pullSlot'), queue.pullSlot());
  } finally {
    for (const child of children) child.kill();
    await Promise.all(children.map((child) => child.exited));
    region.close();
  }
});

test('producers SIGKILLed mid-push (often holding the lock) leave the queue usable and untorn', async () => {
  const options = { slots: 64, blocksize: 65536 };
  const { queue, region, layout } = makeQueue(options);
  try {
    for (let round = 0; round < 6; round++) {
      const producer = await spawnChild(region.fd, { layout, queue: options });
      producer.send('push-forever', 65000);
      await producer.event('started');
      await new Promise((resolve) => setTimeout(resolve, 30 + round * 11));
      producer.kill('SIGKILL');
      await producer.exited;
      const slot = queue.slot();
      assert.ok(Number.isInteger(slot) && slot >= 0 && slot < 64, `pos ${slot}`);
      for (let i = 0; i < 64; i++) {
        const message = queue.get(i);
        if (message !== null) assert.is(checkValue('queue', message), null, `slot ${i} after kill ${round + 1}`);
      }
      assert.ok(queue.push('after'), 'push works');
      assert.is(text(queue.pop()), 'after', 'and pop');
    }
    console.log(`  6 producers killed; the lock was taken over from ${queue.lock.steals} of them`);
  } finally {
    region.close();
  }
});

test.run();
