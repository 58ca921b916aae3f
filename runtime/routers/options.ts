/**
 * The FastRouter and Subscriptions rows of the option table (runtime/options.ts). A value that
 * cannot be parsed (an address, a --subscribe-to spec) is refused where it is set, so the error
 * names its option, file and line.
 */
import { parseAddress } from '../address.js';
import type { Options, OptionRow } from '../options.js';
import { checkServerAddress, parseSubscribe2, parseSubscribeTo } from './subscription/spec.js';

const address = (value: string) => void parseAddress(value);

export const FASTROUTER_ROWS = [
  { name: 'fastrouter', kind: 'string', arg: 'ADDR', section: 'FastRouter', repeatable: true, check: address, help: 'run a FastRouter on ADDR: a uwsgi-protocol proxy process (nginx `uwsgi_pass` in front) that picks a node by the key UWSGI_FASTROUTER_KEY, else HTTP_HOST, else SERVER_NAME, and streams the request and the response between them' },
  { name: 'fastrouter-processes', aliases: ['fastrouter-workers'], kind: 'int', arg: 'N', section: 'FastRouter', min: 1, max: 64, default: 1, help: 'FastRouter processes sharing its sockets (supervised and respawned by the master)' },
  { name: 'fastrouter-use-cache', kind: 'flag', section: 'FastRouter', default: false, help: 'map the key through the instance cache (--cache): value `addr[,modifier1]`, or `addr1|addr2|…` taken in turn' },
  { name: 'fastrouter-use-pattern', kind: 'string', arg: 'PATTERN', section: 'FastRouter', help: 'map the key to PATTERN with each %s replaced by the key (e.g. /tmp/%s.sock)' },
  { name: 'fastrouter-subscription-server', kind: 'string', arg: 'ADDR', section: 'FastRouter', check: checkServerAddress, help: 'run a subscription server on UDP ADDR: instances announce themselves with --subscribe-to, and the key picks among their nodes' },
  { name: 'fastrouter-use-base', aliases: ['fastrouter-user-base'], kind: 'string', arg: 'DIR', section: 'FastRouter', help: 'map the key to DIR followed by the key (typically unix sockets; --fastrouter-user-base is the talk\'s spelling)' },
  { name: 'fastrouter-to', kind: 'string', arg: 'ADDR', section: 'FastRouter', repeatable: true, check: address, help: 'a static node; several are taken in round robin, and one that fails to connect is skipped for --fastrouter-gracetime' },
  { name: 'fastrouter-gracetime', kind: 'number', arg: 'SECS', section: 'FastRouter', min: 0, default: 30, help: 'how long a --fastrouter-to node that failed to connect is skipped' },
  { name: 'fastrouter-fallback', kind: 'string', arg: 'ADDR', section: 'FastRouter', repeatable: true, check: address, help: 'nodes tried in order when the mapped node cannot be connected after its retries' },
  { name: 'fastrouter-fallback-on-no-key', kind: 'flag', section: 'FastRouter', default: false, help: 'also use the --fastrouter-fallback nodes when a request has no key or the key maps to no node' },
  { name: 'fastrouter-max-retries', kind: 'int', arg: 'N', section: 'FastRouter', min: 0, max: 64, default: 3, help: 'connects retried with a new mapping after a node fails to connect (which marks it dead)' },
  { name: 'fastrouter-timeout', kind: 'number', arg: 'SECS', section: 'FastRouter', min: 0.01, default: 60, help: 'close a FastRouter session (and its node connection) after SECS without traffic; also the connect timeout' },
  { name: 'fastrouter-stats', aliases: ['fastrouter-stats-server', 'fastrouter-ss'], kind: 'string', arg: 'ADDR', section: 'FastRouter', check: address, help: 'serve the FastRouter\'s state as JSON (listeners, sessions, subscriptions and their nodes) to whoever connects to ADDR' },
] as const satisfies readonly OptionRow[];

export const SUBSCRIPTION_ROWS = [
  { name: 'subscribe-to', aliases: ['st', 'subscribe'], kind: 'string', arg: '[ADDR=]SERVER:KEY[,MODIFIER1]', section: 'Subscriptions', repeatable: true, check: (v) => void parseSubscribeTo(v), help: 'announce this instance to the subscription server at UDP SERVER as a node for KEY (address: ADDR, else the first --socket) at start and every --subscribe-freq s; unsubscribed at shutdown' },
  { name: 'subscribe2', kind: 'string', arg: 'KEY=VALUE,…', section: 'Subscriptions', repeatable: true, check: (v) => void parseSubscribe2(v), help: 'a subscription with keys server, key, addr, socket (index of the announced socket), weight, modifier1, modifier2, check (skip it while that file exists)' },
  { name: 'subscribe-freq', kind: 'number', arg: 'SECS', section: 'Subscriptions', min: 0.01, default: 10, help: 'how often the subscriptions are announced again' },
  { name: 'subscription-tolerance', kind: 'number', arg: 'SECS', section: 'Subscriptions', min: 0.01, default: 17, help: 'a subscription server forgets a node it has not heard from for SECS' },
  { name: 'subscription-algo', kind: 'enum', arg: 'ALGO', section: 'Subscriptions', choices: ['wrr', 'lrc', 'wlrc'], default: 'wrr', help: 'how a subscription server balances a key\'s nodes: weighted round robin, least reference count (fewest sessions in flight), or sessions per weight' },
  { name: 'weight', kind: 'int', arg: 'N', section: 'Subscriptions', min: 0, max: 1_000_000, default: 1, help: 'the weight this instance announces (0 counts as 1)' },
  { name: 'auto-weight', kind: 'flag', section: 'Subscriptions', default: false, help: 'announce processes × async as the weight' },
  { name: 'start-unsubscribed', kind: 'flag', section: 'Subscriptions', default: false, help: 'announce nothing (the subscriptions are configured but not sent)' },
  { name: 'unsubscribe-on-graceful-reload', kind: 'flag', section: 'Subscriptions', default: false, help: 'unsubscribe on a graceful reload too (a shutdown and a brutal reload always do)' },
] as const satisfies readonly OptionRow[];

/** A router is a gateway process of the master: the instance needs no app or socket of its own. */
export function hasGateways(options: Options): boolean {
  return options.fastrouter.length > 0 || options.http.length > 0;
}
