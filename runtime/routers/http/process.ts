/**
 * Entry of an HTTP router process (the master spawns this file directly: a router loads no app,
 * so it skips the worker's boot). It serves the inherited --http sockets until SIGTERM, then
 * finishes the responses under way and exits; SIGINT is the master's to handle.
 */
import { hostname } from 'node:os';
import { installCrashLogging } from '../../boot/crash-logging.js';
import { installChildLogging } from '../../logging/child-pipe.js';
import { flushLog, log, setLogPrefix } from '../../logger.js';
import { native } from '../../native.js';
import { HttpGateway } from './gateway.js';
import { RoundRobinNodes, type NodePicker } from './node-picker.js';
import { ClusterNodes, SubscribedNodes } from './table-pickers.js';
import { NodeTable } from '../nodes.js';
import { applySubscription, serveSubscriptions } from '../subscription/server.js';
import { attachSharedState } from '../../shared/state.js';
import type { PacketSettings } from './packet.js';
import { LINK_MODIFIER2 } from '../../protocols/uwsgi/packet.js';
import { FIRST_LISTENER_FD, takeRouterSpec } from './spec.js';

const spec = takeRouterSpec();
const { options } = spec;
setLogPrefix(`[http ${spec.id}]`);
installChildLogging(options, `[http ${spec.id}]`);
installCrashLogging();
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});

const timeoutMs = options['http-timeout'] * 1000;
const extraVars = options['http-var'].flatMap((pair) => {
  const at = pair.indexOf('=');
  return [pair.slice(0, at), pair.slice(at + 1)];
});
const serverName = hostname();
const settings: PacketSettings[] = spec.listeners.map((_, i) => {
  const local = native.localAddress(FIRST_LISTENER_FD + i);
  return {
    modifier1: options['http-modifier1'],
    modifier2: spec.links ? LINK_MODIFIER2 : options['http-modifier2'],
    serverName,
    hostAsServerName: options['http-server-name-as-http-host'],
    serverPort: local.family === 'unix' ? '' : String(local.port),
    extraVars,
    underscores: options['http-underscores-in-headers'],
  };
});

/** Where requests go: --http-to (or the instance's workers), the subscribed nodes, or the cluster. */
function nodePicker(): NodePicker {
  if (spec.regionFd !== undefined) return new ClusterNodes(attachSharedState(spec.regionFd, options).cluster!);
  if (spec.subscription === undefined) return new RoundRobinNodes(spec.nodes);
  const table = new NodeTable({ toleranceMs: options['subscription-tolerance'] * 1000, algo: options['subscription-algo'] });
  const counters = { packets: 0, refused: 0 };
  const relay = options['http-processes'] > 1 ? (packet: Buffer) => process.send?.({ act: 'subscription', packet: packet.toString('base64') }) : undefined;
  serveSubscriptions(spec.subscription.fd, spec.subscription.family, table, counters, relay);
  process.on('message', (message: { act?: unknown; packet?: unknown }) => {
    if (message?.act === 'subscription' && typeof message.packet === 'string') applySubscription(table, Buffer.from(message.packet, 'base64'), Date.now(), counters);
  });
  // Picking a key expires its silent nodes; the sweep catches keys nobody asks for.
  setInterval(() => table.expire(Date.now()), options['subscription-tolerance'] * 1000).unref();
  return new SubscribedNodes(table);
}

const gateway = new HttpGateway({
  nodes: nodePicker(),
  keepAlive: options['http-keepalive'],
  timeoutMs,
  headersTimeoutMs: (options['http-headers-timeout'] ?? options['http-timeout']) * 1000,
  connectTimeoutMs: (options['http-connect-timeout'] ?? options['http-timeout']) * 1000,
  links: spec.links,
  queueOnLinks: options.cheaper === 0,
  settings,
});
spec.listeners.forEach((_, i) => gateway.listen(FIRST_LISTENER_FD + i, i));

let stopping = false;
function stop(why: string): void {
  if (stopping) return;
  stopping = true;
  log(`${why}: finishing the responses under way`);
  void gateway.drain().then(() => {
    gateway.close();
    flushLog();
    process.exit(0);
  });
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('disconnect', () => stop('the master is gone'));

log(`http router ready (pid ${process.pid}) on ${spec.listeners.join(', ')}: forwarding to ${spec.regionFd !== undefined ? 'the cluster' : spec.subscription !== undefined ? 'the subscribed nodes' : spec.nodes.join(', ')}${options['http-keepalive'] ? ', keep-alive on' : ''}`);
process.send?.({ act: 'ready', seq: 1 });
