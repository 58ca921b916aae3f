/**
 * The master's side of the FastRouter (`--fastrouter ADDR`): a gateway of
 * `--fastrouter-processes` processes in a {@link ChildPool}, respawned when they die. The
 * master binds the router's sockets (its listening addresses, the subscription server's UDP
 * socket, the stats socket) once, and every router process inherits them, as workers inherit
 * theirs. It relays subscription datagrams between sibling processes.
 *
 * As in uWSGI, a graceful reload leaves the router running: its node table (the subscriptions
 * it has heard) would otherwise be empty until every node announced itself again.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseAddress } from '../../address.js';
import { childExecArgv } from '../../boot/heap.js';
import { tsgiError } from '../../errors.js';
import { Channel } from '../../ipc.js';
import { log } from '../../logger.js';
import { childLogging } from '../../logging/collector.js';
import { ChildPool, type Child } from '../../master/child-pool.js';
import { bindOne, closeSockets, type BoundSocket } from '../../master/listeners.js';
import type { MasterHost, StatsRows, Subsystem } from '../../master/subsystem.js';
import { range } from '../../master/workers.js';
import { native } from '../../native.js';
import type { Options } from '../../options.js';
import { ROUTER_CHILD_ACTS, ROUTER_ENV, type RouterChannel, type RouterMasterActs, type RouterSpec } from './acts.js';
import { hasMapper } from './mappers.js';
import { bindSubscriptionSocket } from '../subscription/server.js';

const PROCESS_SCRIPT = fileURLToPath(new URL('./process.js', import.meta.url));
const FIRST_FD = 4; // stdio 0-2 shared, 3 the IPC channel

interface RouterSockets {
  listeners: BoundSocket[];
  subscription?: { fd: number; family: 'udp4' | 'udp6'; name: string };
  stats?: BoundSocket;
}

export class FastRouterGateway implements Subsystem {
  readonly name = 'fastrouter';
  children?: ChildPool;
  readonly #channels = new Map<number, RouterChannel>();
  #sockets: RouterSockets = { listeners: [] };
  #host!: MasterHost;

  async start(host: MasterHost): Promise<void> {
    this.#host = host;
    const { options } = host;
    if (options.fastrouter.length === 0) return;
    if (!hasMapper(options)) throw tsgiError('TSGI_ERR_FASTROUTER_NO_MAPPER', '--fastrouter needs a way to find nodes: --fastrouter-use-cache, --fastrouter-use-pattern, --fastrouter-subscription-server, --fastrouter-use-base or --fastrouter-to');
    if (options['fastrouter-use-cache'] && options.cache === 0) throw tsgiError('TSGI_ERR_FASTROUTER_NO_MAPPER', '--fastrouter-use-cache needs the instance cache: add --cache N');
    this.#sockets = await bindRouterSockets(options);
    this.children = new ChildPool({
      noun: 'fastrouter',
      spawn: (slot) => this.#spawn(slot),
      stop: (child) => (child.process.connected ? this.#channels.get(child.pid)?.post({ act: 'stop' }) : child.process.kill('SIGTERM')),
    }, options['reload-mercy'] * 1000 + 1000, () => host.wake(), {
      exited: (child) => {
        this.#channels.delete(child.pid);
        // As for any child the master spawns: a cache lock a dead router process held is reaped.
        for (const subsystem of host.subsystems) if (subsystem !== this) subsystem.childExited?.(child.pid);
      },
    });
    this.children.start(range(options['fastrouter-processes']));
  }

  #spawn(slot: number): Child['process'] {
    const { options } = this.#host;
    const { listeners, subscription, stats } = this.#sockets;
    const fds = [...listeners.map((socket) => socket.fd)];
    const at = (fd: number) => FIRST_FD + fds.push(fd) - 1;
    const spec: RouterSpec = {
      slot,
      masterPid: process.pid,
      options,
      listenNames: listeners.map((socket) => socket.name),
      listenFds: listeners.map((_, i) => FIRST_FD + i),
      subscription: subscription && { fd: at(subscription.fd), family: subscription.family },
      statsFd: stats && at(stats.fd),
      regionFd: options['fastrouter-use-cache'] ? at(this.#host.shared.region.fd) : undefined,
    };
    const logging = childLogging(options, FIRST_FD + fds.length); // the log pipes follow the last fd
    const child = spawn(process.execPath, [...childExecArgv(options), PROCESS_SCRIPT], {
      env: { ...process.env, [ROUTER_ENV]: JSON.stringify(spec), ...logging.env },
      stdio: ['inherit', logging.stdout, logging.stderr, 'ipc', ...fds, ...logging.extra],
    });
    logging.collect(child, `fastrouter ${slot}`);
    const pid = child.pid ?? 0;
    const channel: RouterChannel = new Channel(`fastrouter ${slot} (pid ${pid})`, ROUTER_CHILD_ACTS, {
      ready: () => this.children?.markReady(pid),
      subscription: ({ packet }) => this.#relay(pid, packet),
    }, (message) => {
      if (child.connected) child.send(message);
    });
    child.on('message', (message) => channel.receive(message, pid));
    this.#channels.set(pid, channel);
    return child;
  }

  /** A datagram one process received goes to its siblings. */
  #relay(from: number, packet: string): void {
    for (const [pid, channel] of this.#channels) if (pid !== from) channel.post({ act: 'subscription', packet } satisfies { act: keyof RouterMasterActs; packet: string });
  }

  stopGracefully(): void {
    this.children?.stopGracefully();
  }

  stopBrutally(): void {
    this.children?.stopBrutally();
  }

  waitingFor(): string | undefined {
    const alive = this.children?.children() ?? [];
    return alive.length === 0 ? undefined : `${alive.length} fastrouter process(es) (pid ${alive.map((child) => child.pid).join(', ')}) finishing their sessions`;
  }

  stats(): StatsRows {
    if (this.children === undefined) return {};
    return { fastrouter: { addresses: this.#sockets.listeners.map((socket) => socket.name), processes: this.children.children().map((child) => ({ id: child.slot, pid: child.pid, state: child.state })) } };
  }

  close(): void {
    const { listeners, subscription, stats } = this.#sockets;
    closeSockets(stats ? [...listeners, stats] : listeners);
    if (subscription !== undefined) native.close(subscription.fd);
  }
}

function backlog(options: Options): number {
  return Math.max(1, options.listen);
}

async function bindRouterSockets(options: Options): Promise<RouterSockets> {
  const bound: RouterSockets = { listeners: [] };
  const where = (option: string, text: string, error: unknown) => {
    closeSockets(bound.stats ? [...bound.listeners, bound.stats] : bound.listeners);
    if (bound.subscription) native.close(bound.subscription.fd);
    return tsgiError('TSGI_ERR_FASTROUTER_BIND', `cannot bind --${option} ${text}: ${(error as Error).message}`, { cause: error });
  };
  for (const text of options.fastrouter) {
    try {
      const address = parseAddress(text);
      const { fd, name } = await bindOne(address, backlog(options), 0);
      bound.listeners.push({ address, protocol: 'fastrouter', fd, name });
      log(`fastrouter socket bound to ${name} (fd ${fd})`);
    } catch (error) {
      throw where('fastrouter', text, error);
    }
  }
  const server = options['fastrouter-subscription-server'];
  if (server !== undefined) {
    try {
      const socket = bindSubscriptionSocket(server);
      bound.subscription = socket;
      log(`fastrouter subscription server bound to UDP ${socket.name} (fd ${socket.fd})`);
    } catch (error) {
      throw where('fastrouter-subscription-server', server, error);
    }
  }
  const statsAddress = options['fastrouter-stats'];
  if (statsAddress !== undefined) {
    try {
      const address = parseAddress(statsAddress);
      const { fd, name } = await bindOne(address, backlog(options), 0);
      bound.stats = { address, protocol: 'fastrouter-stats', fd, name };
      log(`fastrouter stats server bound to ${name} (fd ${fd})`);
    } catch (error) {
      throw where('fastrouter-stats', statsAddress, error);
    }
  }
  return bound;
}
