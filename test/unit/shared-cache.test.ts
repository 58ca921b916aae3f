/**
 * The shared cache (runtime/shared/cache.ts) with real processes: the test creates the region
 * (as the master will), child node processes map it from an inherited fd (as workers will) and
 * hammer it; values carry checksums, children get SIGKILLed in the middle of writes. No mocks.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cacheAreaSize, djb33x, openCacheStore, SharedCache, type CacheOptions } from '../../runtime/shared/cache.js';
import { createRegion, type Region } from '../../runtime/shared/region.js';
import { checkValue, fnv1a, spawnChild, type Child } from '../helpers/shared-child.js';
import { throwsCode } from '../helpers/assertions.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A region holding one cache formatted with `options`, like the master will make it. */
function makeCache(options: CacheOptions): { region: Region; cache: SharedCache; layout: { cache: number } } {
  const layout = { cache: cacheAreaSize(options) };
  const region = createRegion(layout, 'tsgi-test-cache');
  return { region, cache: SharedCache.format(region.area('cache'), options), layout };
}


test('djb33x is uWSGI\'s hash, signed char included (values from its C code)', () => {
  const cases: Array<[string | Buffer, number]> = [
    ['', 5381], ['a', 177604], ['hello', 178056679], ['uwsgi cache key', 4038581185],
    ['café', 176734187], [Buffer.from([0xff, 0x80, 0x01]), 193375579],
  ];
  for (const [key, hash] of cases) assert.is(djb33x(Buffer.isBuffer(key) ? key : Buffer.from(key)), hash, String(key));
});

test('set only creates, update overwrites, get returns a copy, del, exists, clear', () => {
  const { cache, region } = makeCache({ items: 16, blocksize: 1024, buckets: 64 });
  assert.is(cache.get('k'), null);
  assert.is(cache.set('k', 'one'), true);
  assert.is(cache.set('k', 'two'), false, 'set never overwrites');
  assert.is(cache.get('k')!.toString(), 'one');
  assert.is(cache.update('k', 'three'), true);
  assert.is(cache.get('k')!.toString(), 'three');
  assert.is(cache.update('new', 'made by update'), true, 'update also creates');

  const copy = cache.get('k')!;
  copy.fill(0);
  assert.is(cache.get('k')!.toString(), 'three', 'the returned Buffer is a copy');

  const binary = Buffer.from([0, 255, 0, 10, 13, 0]);
  assert.ok(cache.set(Buffer.from([0, 1, 2]), binary));
  assert.ok(cache.get(Buffer.from([0, 1, 2]))!.equals(binary), 'binary keys and values');
  assert.ok(cache.set('ключ', 'значение ☃'));
  assert.is(cache.get(Buffer.from('ключ'))!.toString(), 'значение ☃', 'a string key is its UTF-8 bytes');

  assert.is(cache.exists('k'), true);
  assert.is(cache.del('k'), true);
  assert.is(cache.del('k'), false);
  assert.is(cache.exists('k'), false);
  assert.is(cache.get('k'), null);

  assert.is(cache.set('', 'x'), false, 'empty key');
  assert.is(cache.set('x', ''), false, 'empty value');
  assert.is(cache.set('x', Buffer.alloc(0)), false, 'empty value');
  assert.is(cache.stats().items, 3);
  assert.is(cache.clear(), true);
  assert.is(cache.stats().items, 0);
  assert.is(cache.get('new'), null);
  assert.equal(cache.verify(), []);
  const stats = cache.stats();
  assert.equal([stats.hits, stats.misses], [6, 3], JSON.stringify(stats));
  region.close();
});

test('N−1 usable items; full, too big and key too long return false and count why', () => {
  const full: string[] = [];
  const { cache, region } = makeCache({ items: 4, blocksize: 100, keysize: 10, buckets: 8, onFull: (name) => full.push(name) });
  assert.is(cache.capacity, 3);
  for (const key of ['a', 'b', 'c']) assert.ok(cache.set(key, key));
  assert.is(cache.set('d', 'd'), false, '--cache 4 holds 3 items');
  assert.is(cache.update('d', 'd'), false, 'update of a new key too');
  assert.equal(full, ['default', 'default'], 'onFull is where the DANGER line gets logged');
  assert.ok(cache.update('a', 'A'), 'updating an existing key works when full');
  assert.is(cache.get('a')!.toString(), 'A');
  assert.ok(cache.del('b'));
  assert.ok(cache.set('d', 'd'), 'a freed item is reused');

  assert.ok(cache.update('a', Buffer.alloc(100, 1)), 'value = blocksize fits');
  assert.is(cache.update('a', Buffer.alloc(101, 1)), false, 'value > blocksize');
  assert.is(cache.set('zz', 'é'.repeat(51)), false, '102 UTF-8 bytes > blocksize');
  assert.is(cache.get('a')!.length, 100, 'a refused update changes nothing');
  assert.is(cache.set('k'.repeat(11), 'v'), false, 'key > keysize');
  assert.is(cache.set('é'.repeat(6), 'v'), false, '12-byte key (6 characters) > keysize 10');
  assert.is(cache.get('k'.repeat(11)), null, 'a get with a too long key is a miss');
  assert.ok(cache.del('d'));
  assert.ok(cache.set('k'.repeat(10), 'v'), 'key = keysize fits');

  const stats = cache.stats();
  assert.equal({ full: stats.full, tooBig: stats.tooBig, keyTooLong: stats.keyTooLong, items: stats.items }, { full: 2, tooBig: 2, keyTooLong: 2, items: 3 });
  assert.equal(cache.verify(), []);
  region.close();
});

test('expires: absolute time, expired items stay until swept, update resets the expiry', () => {
  let now = 1_000_000;
  const { cache, region } = makeCache({ items: 8, blocksize: 64, buckets: 16, clock: () => now });
  assert.ok(cache.set('short', 'x', 2));
  assert.ok(cache.set('long', 'x', 100));
  assert.ok(cache.set('forever', 'x'));
  assert.is(cache.sweep(), 0, 'nothing expired yet');
  now += 2;
  assert.is(cache.get('short')!.toString(), 'x', 'expired but not swept: still returned (uWSGI)');
  assert.is(cache.exists('short'), true);
  assert.is(cache.set('short', 'y'), false, 'and set still sees it');
  assert.ok(cache.update('long', 'z', 0), 'update with expires 0 makes it permanent');
  assert.is(cache.sweep(), 1, 'expires ≤ now is removed');
  assert.is(cache.get('short'), null);
  now += 1000;
  assert.is(cache.sweep(), 0, 'long became permanent, forever never expires');
  assert.ok(cache.get('long') && cache.get('forever'));
  assert.ok(cache.update('forever', 'w', 5), 'update sets a new expiry');
  now += 4;
  assert.is(cache.sweep(), 0);
  now += 1;
  assert.is(cache.sweep(), 1);
  assert.is(cache.stats().swept, 2);
  assert.equal(cache.verify(), []);
  region.close();
});

test('lazyExpire: expired items vanish on access and the sweeper does nothing', () => {
  let now = 50;
  const { cache, region } = makeCache({ items: 8, blocksize: 64, buckets: 16, clock: () => now, lazyExpire: true });
  assert.ok(cache.set('a', 'x', 1));
  assert.ok(cache.set('b', 'x', 1));
  now += 1;
  assert.is(cache.sweep(), 0, 'no sweeper with lazy_expire');
  assert.is(cache.get('a'), null, 'expired on access');
  assert.is(cache.exists('b'), false);
  assert.ok(cache.set('b', 'again'), 'set on an expired key creates it anew');
  assert.is(cache.stats().items, 1);
  assert.equal(cache.verify(), []);
  region.close();
});

test('wrong argument types throw TSGI_ERR_API_ARGUMENT', () => {
  const { cache, region } = makeCache({ items: 4, blocksize: 64, buckets: 4 });
  throwsCode(() => cache.set(42 as unknown as string, 'x'), 'TSGI_ERR_API_ARGUMENT');
  throwsCode(() => cache.set('k', { a: 1 } as unknown as string), 'TSGI_ERR_API_ARGUMENT');
  throwsCode(() => cache.set('k', 'x', -1), 'TSGI_ERR_API_ARGUMENT');
  throwsCode(() => cache.update('k', 'x', Number.NaN), 'TSGI_ERR_API_ARGUMENT');
  throwsCode(() => cache.get(null as unknown as string), 'TSGI_ERR_API_ARGUMENT');
  throwsCode(() => cacheAreaSize({ items: 0 }), 'TSGI_ERR_OPT_VALUE');
  region.close();
});

test('a value set by one process is read by another, both ways', async () => {
  const options = { items: 32, blocksize: 4096, buckets: 256 };
  const { cache, region, layout } = makeCache(options);
  const child = await spawnChild(region.fd, { layout, cache: options });
  try {
    const binary = Buffer.from([0, 1, 2, 255, 0]);
    assert.ok(cache.set('from-parent', binary, 60));
    const got = await child.call<Buffer>('cache', 'get', 'from-parent');
    assert.ok(got.equals(binary));
    assert.ok(await child.call<boolean>('cache', 'set', 'from-child', 'hello ☃'));
    assert.is(cache.get('from-child')!.toString(), 'hello ☃');
    assert.is(await child.call('cache', 'set', 'from-parent', 'x'), false, 'the child sees the key exists');
    assert.ok(await child.call('cache', 'del', 'from-parent'));
    assert.is(cache.exists('from-parent'), false);
    assert.equal((await child.call<{ items: number }>('cache', 'stats')).items, 1);
  } finally {
    child.kill();
    await child.exited;
    region.close();
  }
});

test('2 processes × 100,000 mixed ops on shared keys: no torn, misplaced or lost value', async () => {
  const options = { items: 256, blocksize: 16384, buckets: 1024 };
  const { cache, region, layout } = makeCache(options);
  const children = await Promise.all([spawnChild(region.fd, { layout, cache: options }), spawnChild(region.fd, { layout, cache: options })]);
  try {
    type Outcome = { errors: string[]; counts: Record<string, number>; final: Record<string, number | null> };
    const started = Date.now();
    const outcomes = await Promise.all(children.map((child, i) => child.call<Outcome>('mixed', {
      ops: 100_000, shared: 24, own: 48, tag: `c${i}`, seed: 0x9e3779b9 + i * 7919, bigEvery: 64, big: 16000,
    })));
    const seconds = (Date.now() - started) / 1000;
    for (const [i, outcome] of outcomes.entries()) {
      assert.equal(outcome.errors, [], `child ${i}: ${outcome.errors.join('; ')}`);
      assert.ok(outcome.counts.hit! > 10_000, `child ${i} read values: ${JSON.stringify(outcome.counts)}`);
    }
    // Each child's own keys hold exactly what it wrote last; shared keys hold intact values.
    for (const outcome of outcomes) {
      for (const [key, sum] of Object.entries(outcome.final)) {
        const value = cache.get(key);
        assert.is(value === null ? null : fnv1a(value), sum, `final value of ${key}`);
      }
    }
    for (let k = 0; k < 24; k++) {
      const value = cache.get(`shared:${k}`);
      if (value !== null) assert.is(checkValue(`shared:${k}`, value), null);
    }
    assert.equal(cache.verify(), []);
    const stats = cache.stats();
    assert.is(stats.lockSteals, 0);
    assert.is(stats.full + stats.tooBig + stats.keyTooLong, 0);
    console.log(`  200,000 ops in ${seconds.toFixed(2)} s across 2 processes (${Math.round(200_000 / seconds).toLocaleString('en')} ops/s incl. checksums); ${stats.hits} hits, ${stats.misses} misses`);
  } finally {
    for (const child of children) child.kill();
    await Promise.all(children.map((child) => child.exited));
    region.close();
  }
});

test('readers racing a writer on the same keys never see a torn or misplaced value', async () => {
  const options = { items: 16, blocksize: 8192, buckets: 4 }; // 4 buckets: the 4 keys share chains
  const { cache, region, layout } = makeCache(options);
  const children = await Promise.all([0, 1].map(() => spawnChild(region.fd, { layout, cache: options })));
  try {
    const [updates, read] = await Promise.all([
      children[0]!.call<number>('update-loop', { keys: 4, ms: 1500, seed: 3 }),
      children[1]!.call<{ reads: number; hits: number; errors: string[] }>('read-loop', { keys: 4, ms: 1500 }),
    ]);
    assert.equal(read.errors, []);
    assert.ok(read.hits > 1000 && updates > 1000, `${read.hits} hits, ${updates} updates`);
    assert.equal(cache.verify(), []);
    console.log(`  ${updates.toLocaleString('en')} updates raced ${read.reads.toLocaleString('en')} reads (${read.hits.toLocaleString('en')} hits), all intact`);
  } finally {
    for (const child of children) child.kill();
    await Promise.all(children.map((child) => child.exited));
    region.close();
  }
});

test('children SIGKILLed in a loop of big writes (often holding the lock) leave the cache usable', async () => {
  const options = { items: 64, blocksize: 65536, buckets: 256 };
  const { cache, region, layout } = makeCache(options);
  const KEYS = 16;
  const survivor = await spawnChild(region.fd, { layout, cache: options });
  const surviving = survivor.call<{ errors: string[]; ops: number; slowestMs: number }>('survive-loop', { keys: KEYS, ms: 60_000, seed: 77 });
  let worstRecoveryMs = 0;
  let kills = 0;
  try {
    // At least 12 kills, and more (up to 40) until one of them caught the child holding the lock.
    for (let round = 0; round < 40 && (round < 12 || cache.lock.steals === 0); round++) {
      kills++;
      const writer = await spawnChild(region.fd, { layout, cache: options });
      writer.send('write-loop', { keys: KEYS, size: 60000, seed: round + 1 });
      await writer.event('started');
      await sleep(40 + ((round * 37) % 90));
      writer.kill('SIGKILL');
      await writer.exited;
      // The parent is a third user: its next operation must get through promptly, whoever held the lock.
      const started = process.hrtime.bigint();
      cache.get('kill:0');
      worstRecoveryMs = Math.max(worstRecoveryMs, Number(process.hrtime.bigint() - started) / 1e6);
      assert.equal(cache.verify(), [], `after kill ${round + 1}`);
      for (let k = 0; k < KEYS; k++) {
        const value = cache.get(`kill:${k}`);
        if (value !== null) assert.is(checkValue(`kill:${k}`, value), null, `after kill ${round + 1}`);
      }
    }
    assert.ok(cache.set('survivor:stop', '1'));
    const outcome = await surviving;
    assert.equal(outcome.errors, []);
    const stats = cache.stats();
    console.log(`  ${kills} kills, ${stats.lockSteals} while holding the lock (stolen from the corpse), ${stats.repairs} index rebuilds; survivor: ${outcome.ops} ops, slowest ${outcome.slowestMs.toFixed(1)} ms; parent's worst first op after a kill ${worstRecoveryMs.toFixed(1)} ms`);
    assert.ok(stats.lockSteals >= 1, 'at least one child died holding the lock (the case under test)');
    assert.ok(stats.repairs >= stats.lockSteals);
    assert.ok(outcome.slowestMs < 1000 && worstRecoveryMs < 1000, 'recovery within a bounded time');
    assert.ok(outcome.ops > 1000);
  } finally {
    survivor.kill();
    await survivor.exited;
    region.close();
  }
});

test('--cache-store: the cache survives a restart, also one after a SIGKILL mid-write', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-cache-store-'));
  const store = join(dir, 'cache.bin');
  const options = { items: 32, blocksize: 8192, buckets: 128 };
  const run = async <T>(fn: (child: Child) => Promise<T>): Promise<T> => {
    const child = await spawnChild(-1, { store, storeMaster: true, cache: options });
    try {
      return await fn(child);
    } finally {
      child.kill('SIGTERM');
      await child.exited;
    }
  };
  try {
    await run(async (child) => {
      assert.ok(await child.call('cache', 'set', 'kept', Buffer.from([1, 2, 3, 0])));
      assert.ok(await child.call('cache', 'set', 'with-expiry', 'soon', 3600));
      assert.ok(await child.call('cache', 'set', 'deleted', 'x'));
      assert.ok(await child.call('cache', 'del', 'deleted'));
    });
    assert.is(readFileSync(store).length, cacheAreaSize(options), 'the file has exactly the cache size');
    await run(async (child) => {
      assert.ok((await child.call<Buffer>('cache', 'get', 'kept')).equals(Buffer.from([1, 2, 3, 0])), 'value kept across the restart');
      assert.is((await child.call<Buffer>('cache', 'get', 'with-expiry')).toString(), 'soon');
      assert.is(await child.call('cache', 'get', 'deleted'), null);
      assert.equal(await child.call('cache', 'verify'), []);
    });

    // A writer killed in the middle of big updates: the next start rebuilds the index.
    const writer = await spawnChild(-1, { store, storeMaster: true, cache: options });
    writer.send('write-loop', { keys: 8, size: 8000, seed: 5 });
    await writer.event('started');
    await sleep(60);
    writer.kill('SIGKILL');
    await writer.exited;
    await run(async (child) => {
      assert.equal(await child.call('cache', 'verify'), []);
      let present = 0;
      for (let k = 0; k < 8; k++) {
        const value = await child.call<Buffer | null>('cache', 'get', `kill:${k}`);
        if (value === null) continue;
        present++;
        assert.is(checkValue(`kill:${k}`, value), null);
      }
      assert.ok(present > 0, 'the killed writer\'s values are there');
      assert.ok((await child.call<Buffer>('cache', 'get', 'kept')).equals(Buffer.from([1, 2, 3, 0])));
    });

    // The parent opens it too, as a restarted master would.
    const reopened = openCacheStore(store, options);
    assert.is(reopened.get('with-expiry')!.toString(), 'soon');
    assert.ok(reopened.stats().repairs >= 1, 'reopening rebuilds the index');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--cache-store with other options, or a foreign file, fails with TSGI_ERR_CACHE_STORE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-cache-store-'));
  try {
    const store = join(dir, 'cache.bin');
    const made = openCacheStore(store, { items: 16, blocksize: 4096 });
    assert.ok(made.set('a', 'b'));
    const error = throwsCode(() => openCacheStore(store, { items: 32, blocksize: 4096 }), 'TSGI_ERR_CACHE_STORE');
    assert.match(error.message, `--cache-store ${store}: the file was written with --cache 16 --cache-blocksize 4096`);
    assert.match(error.message, 'this instance has --cache 32 --cache-blocksize 4096');
    throwsCode(() => openCacheStore(store, { items: 16, blocksize: 8192 }), 'TSGI_ERR_CACHE_STORE');

    const foreign = join(dir, 'foreign.bin');
    writeFileSync(foreign, Buffer.alloc(cacheAreaSize({ items: 4, blocksize: 64 }), 7));
    assert.match(throwsCode(() => openCacheStore(foreign, { items: 4, blocksize: 64 }), 'TSGI_ERR_CACHE_STORE').message, 'not a tsgi cache store');
    writeFileSync(foreign, 'hello');
    assert.match(throwsCode(() => openCacheStore(foreign, { items: 4, blocksize: 64 }), 'TSGI_ERR_CACHE_STORE').message, 'the file is 5 bytes');
    assert.match(throwsCode(() => openCacheStore(join(dir, 'no/such/dir'), { items: 4, blocksize: 64 }), 'TSGI_ERR_CACHE_STORE').message, 'ENOENT');
    assert.is(openCacheStore(store, { items: 16, blocksize: 4096 }).get('a')!.toString(), 'b', 'the right options still open it');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
