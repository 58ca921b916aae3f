/**
 * The router node table (runtime/routers/nodes.ts): weighted round robin, lrc, wlrc, death
 * marks from unsubscribe, failed connects and silence, and keys deleted once nodeless.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NodeTable, type BalanceAlgo } from '../../runtime/routers/nodes.js';
import type { Subscription } from '../../runtime/routers/subscription/packet.js';

const announce = (address: string, weight = 1, key = 'example.com'): Subscription => ({ unsubscribe: false, key, address, modifier1: 0, modifier2: 0, cores: 1, load: 0, weight });
const table = (algo: BalanceAlgo = 'wrr') => new NodeTable({ toleranceMs: 17_000, algo });

function picks(nodes: NodeTable, count: number, now = 1000, key = 'example.com'): string[] {
  return Array.from({ length: count }, () => {
    const node = nodes.pick(key, now);
    if (node === null) return '-';
    nodes.release(node);
    return node.address;
  });
}

test('wrr: equal weights alternate; weights 1 and 3 give 1 and 3 turns per round, in order', () => {
  const even = table();
  even.subscribe(announce('a'), 0);
  even.subscribe(announce('b'), 0);
  assert.equal(picks(even, 4), ['a', 'b', 'a', 'b']);
  const weighted = table();
  weighted.subscribe(announce('a', 1), 0);
  weighted.subscribe(announce('b', 3), 0);
  assert.equal(picks(weighted, 8), ['a', 'b', 'b', 'b', 'a', 'b', 'b', 'b']);
});

test('a weight of 0 counts as 1, and a refresh updates the weight but not modifier1', () => {
  const nodes = table();
  assert.ok(nodes.subscribe({ ...announce('a', 0), modifier1: 5 }, 0));
  assert.not.ok(nodes.subscribe({ ...announce('a', 4), modifier1: 9 }, 1));
  const [stats] = nodes.stats();
  assert.is(stats!.nodes[0]!.weight, 4);
  assert.is(stats!.nodes[0]!.modifier1, 5);
});

test('lrc picks the node with the fewest sessions in flight; wlrc divides them by weight', () => {
  const lrc = table('lrc');
  lrc.subscribe(announce('a'), 0);
  lrc.subscribe(announce('b'), 0);
  const first = lrc.pick('example.com', 0)!;
  assert.is(first.address, 'a');
  assert.is(lrc.pick('example.com', 0)!.address, 'b');
  lrc.release(first);
  assert.is(lrc.pick('example.com', 0)!.address, 'a');
  const wlrc = table('wlrc');
  wlrc.subscribe(announce('a', 1), 0);
  wlrc.subscribe(announce('b', 4), 0);
  const held = Array.from({ length: 5 }, () => wlrc.pick('example.com', 0)!.address);
  assert.equal(held, ['a', 'b', 'b', 'b', 'b']); // b at 4/4 = a at 1/1: the first of equals wins
});

test('a failed connect marks the node dead until it announces itself again', () => {
  const nodes = table();
  nodes.subscribe(announce('a'), 0);
  nodes.subscribe(announce('b'), 0);
  const a = nodes.pick('example.com', 0)!;
  nodes.markFailed(a);
  nodes.release(a);
  assert.equal(picks(nodes, 3), ['b', 'b', 'b']);
  nodes.subscribe(announce('a'), 10);
  assert.equal(new Set(picks(nodes, 4, 10)), new Set(['a', 'b']));
});

test('silence past the tolerance kills a node (checked when its key is picked); a nodeless key is deleted', () => {
  const nodes = table();
  nodes.subscribe(announce('a'), 0);
  nodes.subscribe(announce('b'), 10_000);
  assert.equal(picks(nodes, 2, 17_000), ['a', 'b']);
  assert.equal(picks(nodes, 2, 17_001), ['b', 'b']);
  assert.is(nodes.pick('example.com', 27_001), null);
  assert.is(nodes.size, 0);
  nodes.subscribe(announce('c', 1, 'other.org'), 0);
  assert.is(nodes.expire(30_000), 1);
  assert.is(nodes.size, 0);
});

test('unsubscribe: the node goes once no session holds it, then the key goes', () => {
  const nodes = table();
  nodes.subscribe(announce('a'), 0);
  const held = nodes.pick('example.com', 0)!;
  assert.ok(nodes.unsubscribe({ key: 'example.com', address: 'a' }));
  assert.is(nodes.pick('example.com', 0), null, 'a dead node is never picked');
  assert.is(nodes.size, 1, 'kept while a session holds it');
  nodes.release(held);
  assert.is(nodes.size, 0);
  assert.not.ok(nodes.unsubscribe({ key: 'example.com', address: 'a' }));
});

test.run();
