/**
 * The cheaper subsystem against real processes: a sleeping-request load grows the workers from
 * --cheaper to --processes, they shrink back when it stops, and not one request fails on the way
 * (a retired worker finishes what it serves). The worker count is read from --stats over time.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pickPort } from '../helpers/ports.js';
import { FIXTURE_APPS, httpGet, readStats, sleep, startTsgi, type Server } from '../helpers/tsgi.js';

interface Stats {
  workers: Array<{ id: number; pid: number; status: string }>;
  cheaper: { algo: string; workers: number; min: number; max: number };
}

/** Workers with a process, as the stats server shows them (a retired slot reads `cheap`, pid 0). */
async function running(statsPort: number): Promise<number> {
  const stats = (await readStats(statsPort)) as unknown as Stats;
  return stats.workers.filter((worker) => worker.status !== 'cheap' && worker.pid > 0).length;
}

/** `clients` loops of requests to `path` until stopped; counts what failed. */
function load(port: number, clients: number, path: string) {
  let running = true;
  let done = 0;
  const failures: string[] = [];
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      const response = await httpGet({ port, host: '127.0.0.1' }, path).catch((error: Error) => ({ status: 0, body: error.message }));
      if (response.status === 200) done++;
      else failures.push(`${response.status} ${response.body}`);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { done, failures };
    },
  };
}

/** Polls the stats until `want` workers run; returns every count seen on the way. */
async function waitForWorkers(server: Server, statsPort: number, want: number, seen: number[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const count = await running(statsPort);
    if (seen.at(-1) !== count) seen.push(count);
    if (count === want) return;
    if (Date.now() > deadline) assert.unreachable(`${want} workers never ran (counts seen: ${seen.join(' → ')})\n${server.log()}`);
    await sleep(200);
  }
}

async function startCheaper(algo: string[], front: '--http-socket' | '--http' = '--http-socket'): Promise<{ server: Server; port: number; statsPort: number }> {
  const [port, statsPort] = [await pickPort(), await pickPort()];
  const args = [front, `127.0.0.1:${port}`, '--module', 'green', '--master', '--processes', '4', '--async', '1', '--cheaper', '1', '--stats', `127.0.0.1:${statsPort}`, '--disable-logging', ...algo];
  const server = await startTsgi(args, { cwd: FIXTURE_APPS, ready: /all 1 workers ready/ });
  return { server, port, statsPort };
}

/** Load up to 4 workers, then down to 1; not one request fails. */
async function upAndDown(algo: string[], clients: number, path: string, front?: '--http'): Promise<{ server: Server; seen: number[] }> {
  const { server, port, statsPort } = await startCheaper(algo, front);
  const seen: number[] = [];
  try {
    assert.is(await running(statsPort), 1, 'starts with --cheaper workers');
    const traffic = load(port, clients, path);
    await waitForWorkers(server, statsPort, 4, seen).catch(async (error) => {
      await traffic.stop();
      throw error;
    });
    await sleep(1500); // at --processes, under load: no retiring, no more spawning
    const stats = (await readStats(statsPort)) as unknown as Stats;
    assert.is(stats.cheaper.workers, 4);
    const { done, failures } = await traffic.stop();
    assert.equal(failures, [], `${failures.length} of ${done + failures.length} requests failed`);
    await waitForWorkers(server, statsPort, 1, seen);
    assert.is(((await readStats(statsPort)) as unknown as Stats).cheaper.workers, 1);
    assert.is((await httpGet({ port, host: '127.0.0.1' }, '/sleep?s=0')).status, 200, 'the last worker serves');
    return { server, seen };
  } finally {
    await server.stop();
  }
}

test('cheaper spare: all workers busy for --cheaper-overload spawns one more up to --processes, idle ones retire one at a time down to --cheaper, no request fails', async () => {
  const { server, seen } = await upAndDown(['--cheaper-overload', '1'], 6, '/sleep?s=0.5');
  const log = server.log();
  assert.match(log, /cheaper: all 1 workers busy for 1 s: spawning 1 more \(2\/4\)/);
  assert.match(log, /cheaper: all 3 workers busy for 1 s: spawning 1 more \(4\/4\)/);
  assert.match(log, /cheaper: worker \d idle for \d(\.\d)? s: retiring worker \d \(1\/4\)/);
  assert.is(log.match(/cheaper: .*: spawning/g)?.length, 3, 'one line per spawn');
  assert.is(log.match(/cheaper: .*: retiring/g)?.length, 3, 'one line per retire');
  assert.ok(Math.max(...seen) === 4 && seen.at(-1) === 1, seen.join(' → '));
});

test('cheaper spare behind the HTTP router: the workers it spawns get requests over links too, 1 → 4 → 1, no request fails', async () => {
  const { server, seen } = await upAndDown(['--cheaper-overload', '1'], 6, '/sleep?s=0.5', '--http');
  assert.match(server.log(), /cheaper: all 3 workers busy for 1 s: spawning 1 more \(4\/4\)/);
  assert.ok(Math.max(...seen) === 4 && seen.at(-1) === 1, seen.join(' → '));
});

test('cheaper busyness: windows above --cheaper-busyness-max spawn, --cheaper-busyness-multiplier idle windows retire one, no request fails', async () => {
  const { server } = await upAndDown(['--cheaper-algo', 'busyness', '--cheaper-overload', '1', '--cheaper-busyness-multiplier', '2', '--cheaper-busyness-penalty', '0'], 6, '/sleep?s=0.2');
  const log = server.log();
  assert.match(log, /cheaper: 1 s average busyness of 1 worker\(s\) is \d+ %, above 50 %: spawning 1 more \(2\/4\)/);
  assert.match(log, /cheaper: 1 s average busyness of 2 worker\(s\) below 25 % for 2 cycle\(s\): retiring worker \d \(1\/4\)/);
});

test('cheaper backlog: more than --cheaper-overload connections in the TCP listen queue spawn, a short queue retires idle workers, no request fails', async () => {
  const { server } = await upAndDown(['--cheaper-algo', 'backlog', '--cheaper-overload', '2'], 10, '/sleep?s=0.5');
  const log = server.log();
  assert.match(log, /cheaper: \d+ connections in the listen queue \(more than 2\): spawning 1 more \(2\/4\)/);
  assert.match(log, /cheaper: 0 connections in the listen queue \(fewer than 2\), worker \d idle: retiring worker \d \(1\/4\)/);
});

test('cheaper: SIGHUP reloads only the running workers, and the cheaper subsystem goes on after it', async () => {
  const { server, port, statsPort } = await startCheaper(['--cheaper-overload', '1']);
  try {
    process.kill(server.pid, 'SIGHUP');
    await server.waitFor(/generation 0 retired/);
    assert.is(await running(statsPort), 1);
    const traffic = load(port, 4, '/sleep?s=0.5');
    await waitForWorkers(server, statsPort, 2, []).finally(() => traffic.stop());
  } finally {
    await server.stop();
  }
});

test.run();
