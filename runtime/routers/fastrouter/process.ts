/**
 * Entry of a FastRouter process (spawned by the master's FastRouter subsystem with its spec in
 * TSGI_FASTROUTER): it maps the instance's shared state when the cache is its mapper, receives
 * subscriptions when it is a subscription server, accepts on the inherited sockets, says
 * ready, and on `stop` (or SIGTERM, or the master gone) stops accepting and exits once its
 * sessions are over (at most --reload-mercy later).
 */
import { installCrashLogging } from '../../boot/crash-logging.js';
import { reportBootError } from '../../boot/boot-error.js';
import { installChildLogging } from '../../logging/child-pipe.js';
import { EXIT, tsgiError } from '../../errors.js';
import { Channel } from '../../ipc.js';
import { flushLog, log, setLogPrefix } from '../../logger.js';
import { attachSharedState } from '../../shared/state.js';
import { NodeTable } from '../nodes.js';
import { applySubscription, serveSubscriptions, type SubscriptionServerCounters } from '../subscription/server.js';
import { ROUTER_ENV, ROUTER_MASTER_ACTS, type RouterChildActs, type RouterMasterActs, type RouterSpec } from './acts.js';
import { createMapper } from './mappers.js';
import { FastRouter } from './router.js';
import { serveStats, statsDocument } from './stats.js';

function exit(code: number): never {
  flushLog();
  process.exit(code);
}

function takeSpec(): RouterSpec {
  const spec = JSON.parse(process.env[ROUTER_ENV]!) as RouterSpec;
  delete process.env[ROUTER_ENV];
  return spec;
}

function run(): void {
  const spec = takeSpec();
  const { options } = spec;
  setLogPrefix(`[fastrouter ${spec.slot}]`);
  installChildLogging(options, `[fastrouter ${spec.slot}]`);
  installCrashLogging();
  process.on('SIGINT', () => {});
  process.on('SIGHUP', () => {});
  const packets: SubscriptionServerCounters = { packets: 0, refused: 0 };
  const table = spec.subscription === undefined ? null
    : new NodeTable({ toleranceMs: options['subscription-tolerance'] * 1000, algo: options['subscription-algo'] });
  let router: FastRouter;
  try {
    const cache = options['fastrouter-use-cache'] && spec.regionFd !== undefined ? attachSharedState(spec.regionFd, options).cache : null;
    const mapper = createMapper(options, cache, table);
    if (mapper === null) throw tsgiError('TSGI_ERR_FASTROUTER_NO_MAPPER', 'the FastRouter has no way to find a node');
    router = new FastRouter(options, mapper);
    for (const fd of spec.listenFds) router.listen(fd);
  } catch (error) {
    return exit(reportBootError(error, `fastrouter ${spec.slot}`));
  }
  const master = new Channel<RouterMasterActs, RouterChildActs>(`fastrouter ${spec.slot}`, ROUTER_MASTER_ACTS, {
    stop: () => stop(),
    subscription: ({ packet }) => table && applySubscription(table, Buffer.from(packet, 'base64'), Date.now(), packets),
  }, (message) => {
    if (process.connected) process.send!(message);
  });
  process.on('message', (message) => master.receive(message, undefined));
  if (spec.subscription !== undefined && table !== null) {
    // Siblings share the socket, so each datagram reaches one of them: the master relays it to the others.
    const relay = options['fastrouter-processes'] > 1 ? (packet: Buffer) => master.post({ act: 'subscription', packet: packet.toString('base64') }) : undefined;
    serveSubscriptions(spec.subscription.fd, spec.subscription.family, table, packets, relay);
    // Picking a key expires its silent nodes; this sweep catches the keys nobody asks for, so
    // their nodes do not pile up (and the stats show them gone).
    const tolerance = options['subscription-tolerance'] * 1000;
    setInterval(() => table.expire(Date.now()), tolerance).unref();
  }
  if (spec.statsFd !== undefined) serveStats(spec.statsFd, () => statsDocument(router, spec.listenNames, table, packets));
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    const left = router.activeSessions;
    if (left > 0) log(`stopping: waiting for ${left} session(s) in flight`);
    const mercy = setTimeout(() => exit(EXIT.OK), options['reload-mercy'] * 1000);
    mercy.unref();
    void router.drain().then(() => exit(EXIT.OK));
  };
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
  log(`fastrouter ready (pid ${process.pid}) on ${spec.listenNames.join(', ')} (mapper: ${router.mapper.name})`);
  master.post({ act: 'ready' });
}

run();
