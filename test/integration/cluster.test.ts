/**
 * Clustering (uWSGI 0.9.8, spec emperor-routers.md §5 and wire.md §12) between real tsgi nodes,
 * each in its own network namespace on a private bridge (test/helpers/netns.ts): the talk's two
 * command lines `--cluster 225.1.1.1:1717 --master --processes 4 --module myapp --socket
 * 192.168.173.*:3031` and `--cluster 225.1.1.1:1717` (a node that asks the cluster for its
 * configuration), with the 10.213.0.* network of the test instead of 192.168.173.*.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createNetnsLab, netnsUnavailable, type NetnsLab } from '../helpers/netns.js';
import { FIXTURE_APPS, sleep, startTsgi, type Server } from '../helpers/tsgi.js';
import { stopAll } from '../helpers/processes.js';

const GROUP = '225.1.1.1:1717';
const unavailable = netnsUnavailable();
let lab: NetnsLab;

/** A member as the talk starts it: the socket address is a glob each node resolves to its own. */
const memberArgs = (extra: string[] = []) => [
  '--cluster', GROUP, '--cluster-freq', '1', '--cluster-tolerance', '4', '--master', '--processes', '2',
  '--http-socket', '10.213.0.*:8080', '--chdir', FIXTURE_APPS, '--module', 'cluster', ...extra,
];

function startNode(index: number, args: string[], ready: RegExp | null = /ready \(pid/): Promise<Server> {
  return startTsgi(args, { wrapper: lab.wrapper(index), ready, timeoutMs: 20_000 });
}

/** GET from inside node `from`'s namespace (the root namespace has no route to the lab). */
function get(from: number, url: string): Record<string, unknown> {
  const script = `fetch(${JSON.stringify(url)}).then((r) => r.text()).then((t) => process.stdout.write(t), (e) => { console.error(e.message); process.exit(1); })`;
  return JSON.parse(lab.run(from, process.execPath, ['-e', script])) as Record<string, unknown>;
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let value: T | undefined;
    try {
      value = probe();
    } catch {
      // not there yet (a 502 before the router knows a member, a node still starting)
    }
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

const url = (index: number, path = '/') => `http://${lab.addresses[index]}:8080${path}`;
const nodesSeenBy = (index: number) => get(index, url(index)).nodes as string[];

if (unavailable) {
  test(`cluster tests need network namespaces: skipped (${unavailable})`, () => {
    console.log(`  skipped: ${unavailable}; run as root with iproute2 installed`);
  });
} else {
  test.before(() => {
    lab = createNetnsLab(3);
  });
  test.after.each(async () => {
    await stopAll();
  });
  test.after(() => lab.teardown());

  test('three members bind the address their glob matches, and each lists all three', async () => {
    const nodes = [];
    for (let i = 0; i < 3; i++) nodes.push(await startNode(i, memberArgs()));
    nodes.forEach((node, i) => assert.match(node.log(), `bound to ${lab.addresses[i]}:8080`));
    const all = lab.addresses.map((address) => `${address}:8080`).sort();
    for (let i = 0; i < 3; i++) await until(`node ${i + 1} to list all three`, () => (nodesSeenBy(i).length === 3 ? true : undefined));
    assert.equal(nodesSeenBy(0), all);
    const view = get(1, url(1));
    assert.is(view.cluster, GROUP);
    assert.is(Object.keys(view.names as object).length, 3);
    await nodes[0]!.waitFor(/new node available/);
  });

  test('cluster_best_node() hands out the least recently chosen node, across the workers', async () => {
    for (let i = 0; i < 3; i++) await startNode(i, memberArgs());
    await until('a full table', () => (nodesSeenBy(0).length === 3 ? true : undefined));
    const picks = Array.from({ length: 6 }, () => get(0, url(0, '/best')).best as string);
    assert.equal(new Set(picks.slice(0, 3)).size, 3, `first three picks differ: ${picks}`);
    assert.equal(picks.slice(3), picks.slice(0, 3), 'then the same round again');
  });

  test('a node silent for --cluster-tolerance leaves the table; --cluster-nodes listens without being listed', async () => {
    await startNode(0, memberArgs());
    const second = await startNode(1, memberArgs());
    await startNode(2, ['--cluster-nodes', GROUP, '--cluster-tolerance', '4', '--http-socket', '10.213.0.*:8080', '--chdir', FIXTURE_APPS, '--module', 'cluster']);
    await until('both members listed by the listener', () => (nodesSeenBy(2).length === 2 ? true : undefined));
    assert.equal(nodesSeenBy(0).length, 2, 'the listen-only node is not announced');
    second.child.kill('SIGKILL');
    await until('the dead member to be dropped', () => (nodesSeenBy(2).length === 1 ? true : undefined), 12_000);
    assert.equal(nodesSeenBy(0), [`${lab.addresses[0]}:8080`]);
  });

  test('a node started with --cluster alone runs with a member\'s configuration', async () => {
    await startNode(0, memberArgs());
    const newcomer = await startNode(2, ['--cluster', GROUP], /ready \(pid/);
    assert.match(newcomer.log(), 'asks the members for a configuration');
    assert.match(newcomer.log(), `running with the configuration of ${lab.addresses[0]}`);
    assert.match(newcomer.log(), `bound to ${lab.addresses[2]}:8080`, 'the same glob binds its own address');
    const view = get(2, url(2));
    assert.is(view.cluster, GROUP);
    await until('the newcomer to be a member', () => (nodesSeenBy(0).length === 2 ? true : undefined));
  });

  test('--cluster-reload reloads every member gracefully; --cluster-log lines reach every log', async () => {
    const members = [await startNode(0, memberArgs()), await startNode(1, memberArgs())];
    const pidsBefore = get(0, url(0)).pid;
    lab.run(2, process.execPath, [new URL('../../runtime/main.js', import.meta.url).pathname, '--cluster-log', GROUP], 'hello cluster\nsecond line\n');
    for (const member of members) {
      await member.waitFor(/\[cluster 10\.213\.0\.13\] hello cluster/);
      await member.waitFor(/\[cluster 10\.213\.0\.13\] second line/);
    }
    lab.run(2, process.execPath, [new URL('../../runtime/main.js', import.meta.url).pathname, '--cluster-reload', GROUP]);
    for (const member of members) await member.waitFor(/asked every member to reload/);
    await until('new workers on node 1', () => (get(0, url(0)).pid !== pidsBefore ? true : undefined));
  });

  test('--http-use-cluster: an HTTP router forwards each request to the member chosen least recently', async () => {
    const uwsgiFirst = (extra: string[] = []) => ['--socket', '10.213.0.*:3031', ...memberArgs(extra)];
    await startNode(1, uwsgiFirst());
    await startNode(2, uwsgiFirst());
    await startNode(0, ['--cluster-nodes', GROUP, '--cluster-tolerance', '4', '--http', '10.213.0.*:9090', '--http-use-cluster'], /http router ready/);
    const members = [`${lab.addresses[1]}:3031`, `${lab.addresses[2]}:3031`];
    await until('the router to know both members', () => {
      const masters = new Set(Array.from({ length: 4 }, () => get(0, `http://${lab.addresses[0]}:9090/`).master));
      return masters.size === 2 ? true : undefined;
    });
    const views = Array.from({ length: 4 }, () => get(0, `http://${lab.addresses[0]}:9090/`));
    assert.is(views[0]!.master, views[2]!.master, 'the same member every other request');
    assert.is(views[1]!.master, views[3]!.master);
    assert.is.not(views[0]!.master, views[1]!.master);
    assert.equal((views[0]!.nodes as string[]).filter((node) => members.includes(node)).length, 2);
  });

  test('a malformed datagram is dropped and logged; the member keeps serving', async () => {
    const member = await startNode(0, memberArgs());
    const send = `const s = require('dgram').createSocket('udp4'); s.send(Buffer.from([95, 200, 0, 0, 1]), 1717, '225.1.1.1', () => s.close());`;
    lab.run(1, process.execPath, ['-e', send]);
    await member.waitFor(/cluster: dropped a datagram from 10\.213\.0\.12:\d+ \(1 so far\): header says 200 payload bytes/);
    assert.is(get(0, url(0)).cluster, GROUP);
  });
}

test.run();
