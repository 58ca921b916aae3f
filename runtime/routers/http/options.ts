/**
 * The HTTP router rows of the option table (runtime/options.ts): uWSGI's `--http` gateway, an
 * HTTP/1.1 front end in its own processes that turns each request into a uwsgi packet for the
 * instance's workers or for `--http-to` nodes (spec emperor-routers.md §4).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Options, OptionRow } from '../../options.js';
import { checkServerAddress } from '../subscription/spec.js';

function keyValue(value: string): void {
  if (value.indexOf('=') <= 0) throw new Error('expected KEY=VALUE');
}

export const HTTP_ROUTER_ROWS = [
  { name: 'http', kind: 'address', arg: 'ADDR', section: 'HTTP router', repeatable: true, help: 'run an HTTP/1.1 router (gateway process) on ADDR: each request becomes a uwsgi packet for the workers (a unix uwsgi socket in the temp dir is made for them if there is no --socket) or for the --http-to nodes' },
  { name: 'http-to', kind: 'address', arg: 'ADDR', section: 'HTTP router', repeatable: true, help: 'a uwsgi node the router forwards to (tcp host:port, /unix/path or @abstract), round robin; an instance with nodes and no app runs the router alone' },
  { name: 'http-processes', aliases: ['http-workers'], kind: 'int', arg: 'N', section: 'HTTP router', min: 1, max: 64, default: 1, help: 'router processes sharing the --http sockets' },
  { name: 'http-keepalive', kind: 'flag', section: 'HTTP router', default: false, help: 'keep HTTP/1.1 client connections open between requests; a response the node ends by closing is sent chunked (uWSGI needs --http-auto-chunked for that), and pipelined requests are answered in order (uWSGI turns keep-alive off for them)' },
  { name: 'http-timeout', kind: 'number', arg: 'SECS', section: 'HTTP router', min: 0.001, default: 60, help: 'close a connection whose client or node is silent this long (504 if the node has not answered yet); also the idle keep-alive limit' },
  { name: 'http-headers-timeout', kind: 'number', arg: 'SECS', section: 'HTTP router', min: 0.001, help: 'a request head must arrive within SECS (else 408; default: --http-timeout)' },
  { name: 'http-connect-timeout', kind: 'number', arg: 'SECS', section: 'HTTP router', min: 0.001, help: 'a node must accept the connection within SECS (else the next node, then 502; default: --http-timeout)' },
  { name: 'http-var', kind: 'string', arg: 'KEY=VALUE', section: 'HTTP router', repeatable: true, check: keyValue, help: 'add a var to every uwsgi packet the router sends' },
  { name: 'http-modifier1', kind: 'int', arg: 'N', section: 'HTTP router', min: 0, max: 255, default: 0, help: 'modifier1 of the packets the router sends' },
  { name: 'http-modifier2', kind: 'int', arg: 'N', section: 'HTTP router', min: 0, max: 255, default: 0, help: 'modifier2 of the packets the router sends' },
  { name: 'http-subscription-server', kind: 'string', arg: 'ADDR', section: 'HTTP router', check: checkServerAddress, help: 'run a subscription server on UDP ADDR: instances announce themselves with --subscribe-to, and the request\'s Host picks among their nodes (balanced by --subscription-algo)' },
  { name: 'http-use-cluster', kind: 'flag', section: 'HTTP router', default: false, help: 'forward each request to the --cluster member chosen least recently (uWSGI 0.9.8)' },
  { name: 'http-server-name-as-http-host', kind: 'flag', section: 'HTTP router', default: false, help: 'SERVER_NAME is the Host header (without port) instead of the local hostname' },
] as const satisfies readonly OptionRow[];

/** The router forwards to the instance's own workers: it has no nodes of its own. */
export function routesToOwnWorkers(options: Options): boolean {
  return options.http.length > 0 && !hasRouterNodes(options);
}

/** Nodes that are not the instance's workers: static, subscribed or the cluster's. */
function hasRouterNodes(options: Options): boolean {
  return options['http-to'].length > 0 || options['http-subscription-server'] !== undefined || options['http-use-cluster'];
}

/** A router with nodes and no app to load: the instance runs the router alone, no workers. */
export function routerOnly(options: Options): boolean {
  return options.http.length > 0 && hasRouterNodes(options) && options.module === undefined && options['wsgi-file'] === undefined;
}

/**
 * The uwsgi socket made for the workers when the router has nowhere else to send. uWSGI binds
 * 127.0.0.1:0; tsgi binds a unix socket in the temp dir, named after the master's pid (removed
 * at shutdown like any unix socket): the router connects once per request, and a loopback TCP
 * connect and close cost its process about twice the CPU of a unix one (bench/RESULTS.md).
 */
export function routerWorkerSockets(options: Options): Array<{ text: string; protocol: string }> {
  const hasUwsgiSocket = options.socket.length > 0 && options.protocol === 'uwsgi';
  return routesToOwnWorkers(options) && !hasUwsgiSocket ? [{ text: join(tmpdir(), `tsgi-${process.pid}-http-workers.sock`), protocol: 'uwsgi' }] : [];
}
