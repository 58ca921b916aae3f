/**
 * `--metrics ADDR` and /metrics of the stats server, against a real instance (2 workers × 4
 * cores, cache, queue, spooler): Debian's real promtool lints the Prometheus text and parses the
 * OpenMetrics text, and the counters add up to the requests this test sent.
 */
import { execFileSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { promtoolCheck, promtoolOpenMetrics, samples, total } from '../helpers/exposition.js';
import { pickPort } from '../helpers/ports.js';
import { FIXTURE_APPS, httpGet, runTsgi, sleep, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';

const port = await pickPort();
const metricsPort = await pickPort();
const statsPort = await pickPort();
let server: Server;

test.before(async () => {
  server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'metrics', '--master', '--processes', '2', '--async', '4',
    '--cache', '16', '--queue', '8', '--spooler', tempDir(), '--metrics', `127.0.0.1:${metricsPort}`,
    '--stats', `127.0.0.1:${statsPort}`, '--stats-http'], { cwd: FIXTURE_APPS, ready: /all 2 workers ready/ });
});
test.after(async () => {
  await server.stop();
});

const app = (path: string) => httpGet({ port }, path);
const scrapeText = async (accept?: string) => (await httpGet({ port: metricsPort }, '/metrics', { headers: accept ? { Accept: accept } : {} })).body;
const scrape = async () => samples(await scrapeText());

/** Scrapes until `done` holds (the worker counts a request once its response is sent). */
async function scrapeUntil(done: (map: Map<string, number>) => boolean, what: string): Promise<Map<string, number>> {
  let map = await scrape();
  for (let tries = 0; !done(map); tries++) {
    if (tries > 100) throw new Error(`never saw ${what} in:\n${[...map].join('\n')}`);
    await sleep(50);
    map = await scrape();
  }
  return map;
}

test('promtool check metrics passes on the exposition, and fails a broken one', async () => {
  await app('/');
  const response = await httpGet({ port: metricsPort }, '/metrics');
  assert.is(response.status, 200);
  assert.is(response.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  const lint = promtoolCheck(response.body);
  assert.is(lint.status, 0, lint.output);
  assert.is(lint.output, '');
  // The control: promtool does look (a counter must end in _total).
  const broken = promtoolCheck(response.body.replaceAll('tsgi_worker_requests_total', 'tsgi_worker_requests'));
  assert.is.not(broken.status, 0);
  assert.match(broken.output, /_total/);
  assert.is((await httpGet({ port: metricsPort }, '/other')).status, 404);
});

test('requests, exceptions, the duration histogram and busy cores add up to the requests sent', async () => {
  const before = await scrape();
  const sent = { fast: 20, failing: 3, slow: 4 };
  const slow = Array.from({ length: sent.slow }, () => app('/slow?s=0.6'));
  await sleep(250);
  const during = await scrape();
  const busy = total(during, 'tsgi_worker_busy_cores');
  assert.ok(busy >= 1 && busy <= sent.slow, `busy cores while ${sent.slow} slow requests run: ${busy}`);
  assert.is(busy + total(during, 'tsgi_worker_idle_cores'), 8, 'busy + idle = 2 workers × 4 cores');
  for (let i = 0; i < sent.fast; i++) assert.is((await app('/')).body, 'hello');
  for (let i = 0; i < sent.failing; i++) assert.is((await app('/fail')).status, 500);
  await Promise.all(slow);
  const all = sent.fast + sent.failing + sent.slow;
  const delta = (map: Map<string, number>, name: string, having = '') => total(map, name, having) - total(before, name, having);
  const after = await scrapeUntil((map) => delta(map, 'tsgi_worker_requests_total') >= all, `${all} more requests`);
  assert.is(delta(after, 'tsgi_worker_requests_total'), all);
  assert.is(delta(after, 'tsgi_worker_exceptions_total'), sent.failing);
  assert.is(delta(after, 'tsgi_request_duration_seconds_count'), all);
  assert.is(delta(after, 'tsgi_request_duration_seconds_bucket', 'le="+Inf"'), all);
  assert.is(delta(after, 'tsgi_request_duration_seconds_bucket', 'le="10.0"'), all);
  assert.ok(all - delta(after, 'tsgi_request_duration_seconds_bucket', 'le="0.5"') === sent.slow, 'the slow requests are above 0.5 s, the rest below');
  assert.ok(delta(after, 'tsgi_request_duration_seconds_sum') >= sent.slow * 0.6, 'the sum has the slow requests\' seconds');
  for (const id of ['1', '2']) {
    assert.is(after.get(`tsgi_worker_requests_total{worker="${id}"}`), after.get(`tsgi_request_duration_seconds_count{worker="${id}"}`), `worker ${id}: histogram count = requests`);
    assert.is(after.get(`tsgi_worker_running{worker="${id}"}`), 1);
    assert.ok(after.get(`tsgi_worker_resident_memory_bytes{worker="${id}"}`)! > 10e6, 'RSS of a live worker');
  }
  // The stats JSON reads the same scoreboard.
  const stats = JSON.parse((await httpGet({ port: statsPort }, '/')).body) as { workers: Array<{ id: number; requests: number }> };
  for (const worker of stats.workers) assert.is(worker.requests, after.get(`tsgi_worker_requests_total{worker="${worker.id}"}`));
});

test('cache items and hits, queue depth, spooler backlog and the listen queue', async () => {
  for (const key of ['a', 'b', 'c', 'd', 'e', 'f']) assert.is((await app(`/cache?k=${key}`)).body, 'v');
  for (const value of ['x', 'y', 'z']) assert.is((await app(`/queue?v=${value}`)).body, 'true');
  const later = Math.floor(Date.now() / 1000) + 3600;
  for (let i = 0; i < 2; i++) await app(`/spool?at=${later}`);
  const map = await scrape();
  assert.is(map.get('tsgi_cache_items{cache="default"}'), 6);
  assert.is(map.get('tsgi_cache_capacity_items{cache="default"}'), 15);
  // Each worker adds its hits to the shared count at its next write: all but its last get.
  const hits = map.get('tsgi_cache_hits_total{cache="default"}')!;
  assert.ok(hits >= 4 && hits <= 6, `hits ${hits}`);
  assert.is(map.get('tsgi_cache_misses_total{cache="default"}'), 0);
  assert.is(map.get('tsgi_queue_messages'), 3);
  assert.is(map.get('tsgi_queue_slots'), 8);
  assert.is(total(map, 'tsgi_spooler_backlog_tasks'), 2);
  assert.is(total(map, 'tsgi_spooler_respawns_total'), 0);
  assert.is(map.get(`tsgi_socket_listen_queue{socket="127.0.0.1:${port}"}`), 0);
  assert.is(map.get(`tsgi_socket_listen_queue_limit{socket="127.0.0.1:${port}"}`), 1024);
  assert.ok(map.get('process_resident_memory_bytes')! > 10e6);
});

test('OpenMetrics when asked: counter families without _total, # EOF, and Prometheus\' parser takes it', async () => {
  const response = await httpGet({ port: metricsPort }, '/metrics', { headers: { Accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' } });
  assert.is(response.headers['content-type'], 'application/openmetrics-text; version=1.0.0; charset=utf-8');
  assert.ok(response.body.endsWith('# EOF\n'));
  assert.ok(response.body.includes('# TYPE tsgi_worker_requests counter\n'));
  assert.ok(response.body.includes('tsgi_worker_requests_total{worker="1"}'));
  const parsed = promtoolOpenMetrics(response.body);
  assert.is(parsed.status, 0, parsed.output);
  const truncated = promtoolOpenMetrics(response.body.replace('# EOF\n', ''));
  assert.is.not(truncated.status, 0, 'the control: without # EOF the parser refuses it');
});

test('the stats server under --stats-http: /metrics there, the JSON elsewhere, and to a client that sends nothing', async () => {
  const metrics = await httpGet({ port: statsPort }, '/metrics');
  assert.is(metrics.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.is(promtoolCheck(metrics.body).status, 0);
  assert.equal([...samples(metrics.body).keys()], [...(await scrape()).keys()], 'the same series as --metrics');
  const json = await httpGet({ port: statsPort }, '/');
  assert.is(json.headers['content-type'], 'application/json');
  assert.ok(Array.isArray((JSON.parse(json.body) as { workers: unknown }).workers));
  const silent = await new Promise<string>((resolve, reject) => {
    let text = '';
    connect(statsPort, '127.0.0.1').setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve(text)).on('error', reject);
  });
  assert.match(silent, /^HTTP\/1\.0 200 OK\r\nContent-Type: application\/json\r\n/);
});

test('a unix socket\'s listen queue: the connections left waiting while the one core is busy, as ss -xl counts them', async () => {
  const dir = tempDir();
  const socketPath = join(dir, 'http.sock');
  const metricsPath = join(dir, 'metrics.sock');
  const single = await startTsgi(['--http-socket', socketPath, '--module', 'metrics', '--master', '--processes', '1', '--metrics', metricsPath], { cwd: FIXTURE_APPS, ready: /all 1 workers ready/ });
  const waiting: Socket[] = [];
  try {
    const slow = httpGet({ socketPath }, '/slow?s=2');
    const queued = () => httpGet({ socketPath: metricsPath }, '/metrics').then(({ body }) => samples(body).get(`tsgi_socket_listen_queue{socket="${socketPath}"}`));
    for (let tries = 0; (await scrapeBusy(metricsPath)) < 1; tries++) {
      if (tries > 100) throw new Error(`the slow request never took the core:\n${single.log()}`);
      await sleep(20);
    }
    for (let i = 0; i < 3; i++) waiting.push(connect(socketPath).on('error', () => {}));
    // The worker may take one of them before it pauses its accept: the kernel's own figure
    // (`ss -xl`, Recv-Q of a listener) is what the metric must show, and it must not be 0.
    let agreed: number | undefined;
    for (let tries = 0; agreed === undefined && tries < 50; tries++) {
      const [before, seen, after] = [ssRecvQ(socketPath), await queued(), ssRecvQ(socketPath)];
      if (before === seen && seen === after && seen >= 1) agreed = seen;
      else await sleep(20);
    }
    assert.ok(agreed !== undefined && agreed >= 1 && agreed <= 3, `the metric agrees with ss -xl on the connections waiting (${agreed})`);
    await slow;
  } finally {
    for (const socket of waiting) socket.destroy();
    await single.stop();
  }
});

/** Recv-Q of the unix listener at `path` as `ss -xl` reports it (iproute2). */
function ssRecvQ(path: string): number {
  const line = execFileSync('ss', ['-xlnH'], { encoding: 'utf8' }).split('\n').find((row) => row.split(/\s+/)[4] === path);
  if (line === undefined) throw new Error(`ss -xl does not list ${path}`);
  return Number(line.split(/\s+/)[2]);
}

/** Busy cores over the whole instance behind a unix --metrics socket. */
async function scrapeBusy(socketPath: string): Promise<number> {
  return total(samples((await httpGet({ socketPath }, '/metrics')).body), 'tsgi_worker_busy_cores');
}

test('a --metrics address in use stops the boot with TSGI_ERR_METRICS_LISTEN', async () => {
  const { code, output } = await runTsgi(['--http-socket', `127.0.0.1:${await pickPort()}`, '--module', 'metrics', '--metrics', `127.0.0.1:${metricsPort}`], { cwd: FIXTURE_APPS });
  assert.is(code, 1, output);
  assert.match(output, `TSGI_ERR_METRICS_LISTEN: --metrics 127.0.0.1:${metricsPort}: listen EADDRINUSE`);
});

test.run();
