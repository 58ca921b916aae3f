/**
 * Talking to routers in tests: a request through a FastRouter (a uwsgi packet with a Host and
 * optional UWSGI_FASTROUTER_KEY) answered by test/apps/router-node.js, the router's stats
 * document, a hand-made subscription datagram, and a raw node that records what it got.
 */
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect, createServer, type Server as NetServer } from 'node:net';
import { encodeSubscription } from '../../runtime/routers/subscription/packet.js';
import { sleep } from './tsgi.js';
import { uwsgiRequest, type UwsgiTarget } from './uwsgi-client.js';

export interface NodeAnswer {
  status: number;
  node: string;
  length: number;
  sha1: string;
  key: string;
}

/** One request for `host` through the router; status 0 when it closed the connection without an answer. */
export async function routed(target: UwsgiTarget, host: string, opts: { key?: string; body?: Buffer; path?: string } = {}): Promise<NodeAnswer> {
  const vars: Array<[string, string]> = [['REQUEST_METHOD', opts.body ? 'POST' : 'GET'], ['PATH_INFO', opts.path ?? '/'], ['SERVER_PROTOCOL', 'HTTP/1.1'], ['HTTP_HOST', host]];
  if (opts.key !== undefined) vars.push(['UWSGI_FASTROUTER_KEY', opts.key]);
  if (opts.body) vars.push(['CONTENT_LENGTH', String(opts.body.length)]);
  const response = await uwsgiRequest(target, vars, opts.body, { timeoutMs: 20_000 });
  if (response.status === 0) return { status: 0, node: '', length: 0, sha1: '', key: '' };
  const json = JSON.parse(response.body.toString()) as Omit<NodeAnswer, 'status'>;
  return { status: response.status, ...json };
}

/** The nodes that answered `count` requests for `host`, in order ('-' for a closed connection). */
export async function routedNodes(target: UwsgiTarget, host: string, count: number): Promise<string[]> {
  const nodes: string[] = [];
  for (let i = 0; i < count; i++) {
    const answer = await routed(target, host);
    nodes.push(answer.status === 200 ? answer.node : '-');
  }
  return nodes;
}

export function sha1(bytes: Buffer): string {
  return createHash('sha1').update(bytes).digest('hex');
}

/** The JSON a stats server writes to whoever connects. */
export function readJsonFrom(port: number): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk) => (text += chunk));
    socket.on('end', () => {
      try {
        resolve(JSON.parse(text));
      } catch (error) {
        reject(new Error(`not JSON from :${port}: ${text.slice(0, 200)} (${(error as Error).message})`));
      }
    });
    socket.on('error', reject);
  });
}

/** The addresses a router's stats list for `key` (its live and dead nodes). */
export async function statsNodes(port: number, key: string): Promise<Array<{ name: string; death_mark: number; weight: number; failcnt: number }>> {
  const stats = await readJsonFrom(port);
  return (stats.subscriptions as Array<{ key: string; nodes: any[] }>).find((slot) => slot.key === key)?.nodes ?? [];
}

/** Sends one subscription datagram as a uWSGI instance would. */
export async function announce(serverPort: number, key: string, address: string, opts: { unsubscribe?: boolean; weight?: number; modifier1?: number } = {}): Promise<void> {
  const socket = createSocket('udp4');
  const packet = encodeSubscription({ key, address, modifier1: opts.modifier1 ?? 0, modifier2: 0, cores: 1, load: 0, weight: opts.weight ?? 1 }, opts.unsubscribe ?? false);
  await new Promise<void>((resolve, reject) => socket.send(packet, serverPort, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
  socket.close();
}

/** Polls `check` every 50 ms until it is true (throws with `what` after timeoutMs). */
export async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

/**
 * A node that records the bytes of each connection up to the end of its vars block (plus
 * `bodyLength` more), then answers with `response` and closes: for checks of the exact bytes
 * a router forwards.
 */
export async function startRawNode(port: number, response: Buffer, bodyLength = 0): Promise<{ server: NetServer; received: Buffer[] }> {
  const received: Buffer[] = [];
  const server = createServer((socket) => {
    let data = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (data.length >= 4 && data.length >= 4 + data.readUInt16LE(1) + bodyLength) {
        received.push(data);
        socket.end(response);
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, received };
}
