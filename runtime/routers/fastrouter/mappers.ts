/**
 * FastRouter mappers: routing key → the node to connect to. As in uWSGI (corerouter's
 * `ucr->mapper`), the first configured one of cache, pattern, subscription server, base and
 * static nodes is the only one used. Each answers a {@link Target} (address plus the
 * modifier1/2 the request is forwarded with, 0/0 unless the mapper knows better) or null, and
 * hears of a target that failed to connect so the next mapping avoids it.
 */
import type { Options } from '../../options.js';
import type { SharedCache } from '../../shared/cache.js';
import type { NodeTable, RouterNode } from '../nodes.js';

export interface Target {
  address: string;
  modifier1: number;
  modifier2: number;
  /** Set by the subscription mapper: released when the session ends. */
  node: RouterNode | null;
}

export interface Mapper {
  /** As logs name it. */
  readonly name: string;
  map(key: string, now: number): Target | null;
  /** The target could not be connected. */
  failed(target: Target, now: number): void;
  /** The session that mapped `target` is over. */
  done(target: Target): void;
}

const plain = (address: string): Target => ({ address, modifier1: 0, modifier2: 0, node: null });

/** --fastrouter-use-cache: value `addr[,modifier1]`, or `addr1|addr2|…` taken in turn per key. */
class CacheMapper implements Mapper {
  readonly name = 'cache';
  readonly #turns = new Map<string, number>();
  constructor(private readonly cache: SharedCache) {}

  map(key: string): Target | null {
    const value = this.cache.get(key)?.toString('latin1');
    if (!value) return null;
    if (value.includes('|')) {
      const addresses = value.split('|').filter(Boolean);
      const turn = this.#turns.get(key) ?? 0;
      this.#turns.set(key, turn + 1);
      return addresses.length === 0 ? null : plain(addresses[turn % addresses.length]!);
    }
    const comma = value.indexOf(',');
    if (comma < 0) return plain(value);
    return { address: value.slice(0, comma), modifier1: Number.parseInt(value.slice(comma + 1), 10) & 0xff || 0, modifier2: 0, node: null };
  }

  failed(): void {}
  done(): void {}
}

/** --fastrouter-use-pattern: every %s becomes the key. */
class PatternMapper implements Mapper {
  readonly name = 'pattern';
  constructor(private readonly pattern: string) {}
  map(key: string): Target {
    return plain(this.pattern.replaceAll('%s', key));
  }
  failed(): void {}
  done(): void {}
}

/** --fastrouter-use-base: DIR followed by the key, nothing in between (as uWSGI). */
class BaseMapper implements Mapper {
  readonly name = 'base';
  constructor(private readonly base: string) {}
  map(key: string): Target {
    return plain(this.base + key);
  }
  failed(): void {}
  done(): void {}
}

/** --fastrouter-subscription-server: the key's live nodes, balanced by --subscription-algo. */
class SubscriptionMapper implements Mapper {
  readonly name = 'subscription';
  constructor(private readonly table: NodeTable) {}
  map(key: string, now: number): Target | null {
    const node = this.table.pick(key, now);
    return node === null ? null : { address: node.address, modifier1: node.modifier1, modifier2: node.modifier2, node };
  }
  failed(target: Target): void {
    if (target.node !== null) this.table.markFailed(target.node);
  }
  done(target: Target): void {
    if (target.node !== null) this.table.release(target.node);
  }
}

/** --fastrouter-to: static nodes in round robin, any key; one that failed is skipped for the gracetime. */
class StaticMapper implements Mapper {
  readonly name = 'static nodes';
  #next = 0;
  readonly #failedUntil: number[];
  constructor(private readonly addresses: readonly string[], private readonly graceMs: number) {
    this.#failedUntil = addresses.map(() => 0);
  }
  map(_key: string, now: number): Target | null {
    for (let tried = 0; tried < this.addresses.length; tried++) {
      const index = this.#next;
      this.#next = (this.#next + 1) % this.addresses.length;
      if (this.#failedUntil[index]! <= now) return plain(this.addresses[index]!);
    }
    return null;
  }
  failed(target: Target, now: number): void {
    const index = this.addresses.indexOf(target.address);
    if (index >= 0) this.#failedUntil[index] = now + this.graceMs;
  }
  done(): void {}
}

/** The mapper the options configure (null: none, which the subsystem refuses at start). */
export function createMapper(options: Options, cache: SharedCache | null, table: NodeTable | null): Mapper | null {
  if (options['fastrouter-use-cache'] && cache !== null) return new CacheMapper(cache);
  if (options['fastrouter-use-pattern'] !== undefined) return new PatternMapper(options['fastrouter-use-pattern']);
  if (table !== null) return new SubscriptionMapper(table);
  if (options['fastrouter-use-base'] !== undefined) return new BaseMapper(options['fastrouter-use-base']);
  if (options['fastrouter-to'].length > 0) return new StaticMapper(options['fastrouter-to'], options['fastrouter-gracetime'] * 1000);
  return null;
}

/** Whether the options give the FastRouter any way to find a node. */
export function hasMapper(options: Options): boolean {
  return options['fastrouter-use-cache'] || options['fastrouter-use-pattern'] !== undefined || options['fastrouter-subscription-server'] !== undefined
    || options['fastrouter-use-base'] !== undefined || options['fastrouter-to'].length > 0;
}
