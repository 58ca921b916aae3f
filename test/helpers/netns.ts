/**
 * A private network for cluster tests: N network namespaces, each with one veth on a bridge
 * that lives in a hub namespace of its own, a 10.213.0.0/24 address and a multicast route. The
 * root namespace is not connected, so nothing a test sends can leave these namespaces; everything
 * is deleted by {@link NetnsLab.teardown} (deleting a namespace deletes its links).
 */
import { execFileSync, spawnSync } from 'node:child_process';

export interface NetnsLab {
  /** Namespace names, one per node. */
  readonly names: string[];
  /** Each node's address, as `names`. */
  readonly addresses: string[];
  /** The command prefix that runs a program in node `index`'s namespace. */
  wrapper(index: number): string[];
  /** Runs a command in node `index`'s namespace and returns its stdout. */
  run(index: number, command: string, args: string[], input?: string): string;
  teardown(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });

/** Why namespaces cannot be made here (not root, no `ip`, no CAP_SYS_ADMIN), or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  const probe = `tsgi-probe-${process.pid}`;
  const added = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (added.error) return `no ip command (${added.error.message}): install iproute2`;
  if (added.status !== 0) return `cannot create network namespaces: ${added.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
}

export function createNetnsLab(count: number): NetnsLab {
  const tag = `t${process.pid % 100000}`;
  const hub = `${tag}hub`;
  const names = Array.from({ length: count }, (_, i) => `${tag}n${i + 1}`);
  const addresses = names.map((_, i) => `10.213.0.${11 + i}`);
  const made: string[] = [];
  const teardown = () => {
    for (const name of made.splice(0)) spawnSync('ip', ['netns', 'del', name]);
  };
  process.on('exit', teardown); // a test that throws still leaves no namespace behind
  try {
    ip('netns', 'add', hub);
    made.push(hub);
    ip('-n', hub, 'link', 'set', 'lo', 'up');
    // No IGMP querier on this bridge: without snooping it simply floods the group to every port.
    ip('-n', hub, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0');
    ip('-n', hub, 'link', 'set', 'br0', 'up');
    names.forEach((name, i) => {
      ip('netns', 'add', name);
      made.push(name);
      ip('link', 'add', 'eth0', 'netns', name, 'type', 'veth', 'peer', 'name', `port${i}`, 'netns', hub);
      ip('-n', hub, 'link', 'set', `port${i}`, 'master', 'br0', 'up');
      ip('-n', name, 'link', 'set', 'lo', 'up');
      ip('-n', name, 'addr', 'add', `${addresses[i]}/24`, 'dev', 'eth0');
      ip('-n', name, 'link', 'set', 'eth0', 'up');
      ip('-n', name, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0');
    });
  } catch (error) {
    teardown();
    throw error;
  }
  return {
    names,
    addresses,
    wrapper: (index) => ['ip', 'netns', 'exec', names[index]!],
    run: (index, command, args, input) => execFileSync('ip', ['netns', 'exec', names[index]!, command, ...args], { encoding: 'utf8', input, timeout: 15_000, stdio: ['pipe', 'pipe', 'pipe'] }),
    teardown,
  };
}
