/**
 * The master's side of the HTTP router (`--http`): binds the --http sockets (the router
 * processes inherit them, as workers inherit theirs), decides the nodes (the --http-to list, or
 * the instance's first uwsgi socket) and keeps `--http-processes` router processes running in
 * a {@link ChildPool}: respawned when they die, replaced on reload, stopped gracefully.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAddress } from '../../address.js';
import { tsgiError } from '../../errors.js';
import { log } from '../../logger.js';
import { childLogging } from '../../logging/collector.js';
import { native } from '../../native.js';
import { ChildPool } from '../../master/child-pool.js';
import { bindOne, closeSockets, somaxconn, type BoundSocket } from '../../master/listeners.js';
import type { MasterHost, StatsRows, Subsystem } from '../../master/subsystem.js';
import type { Options } from '../../options.js';
import { range } from '../../master/workers.js';
import { routerWorkerSockets } from './options.js';
import { bindSubscriptionSocket, type SubscriptionSocket } from '../subscription/server.js';
import { FIRST_LISTENER_FD, ROUTER_ENV, type RouterSpec } from './spec.js';

const ROUTER_SCRIPT = fileURLToPath(new URL('./process.js', import.meta.url));
/** A stopping router gets the workers' mercy: its clients wait on them. */
const EXTRA_MERCY_MS = 1000;

export class HttpRouter implements Subsystem {
  readonly name = 'http-router';
  children?: ChildPool;
  #sockets: BoundSocket[] = [];
  #nodes: string[] = [];
  #links = false;
  #options: Options | null = null;
  #subscription: SubscriptionSocket | undefined;

  async start(host: MasterHost): Promise<void> {
    const { options } = host;
    if (options.http.length === 0) return;
    this.#options = options;
    const backlog = Math.min(options.listen, somaxconn());
    const deferSeconds = options['no-defer-accept'] ? 0 : Math.ceil(options['socket-timeout']);
    for (const text of options.http) {
      const address = parseAddress(text);
      try {
        const { fd, name } = await bindOne(address, backlog, deferSeconds);
        this.#sockets.push({ address, protocol: 'http-router', fd, name });
        log(`http router socket bound to ${name} (fd ${fd})`);
      } catch (error) {
        this.close();
        throw tsgiError('TSGI_ERR_SOCKET_BIND', `cannot bind --http ${text}: ${(error as Error).message}`, { cause: error });
      }
    }
    if (options['http-use-cluster'] && host.shared.cluster === null) {
      this.close();
      throw tsgiError('TSGI_ERR_CLUSTER_ADDRESS', '--http-use-cluster needs the cluster: add --cluster GROUP:PORT (or --cluster-nodes to only listen)');
    }
    const server = options['http-subscription-server'];
    if (server !== undefined) {
      try {
        this.#subscription = bindSubscriptionSocket(server);
      } catch (error) {
        this.close();
        throw tsgiError('TSGI_ERR_SOCKET_BIND', `cannot bind --http-subscription-server ${server}: ${(error as Error).message}`, { cause: error });
      }
      log(`http router subscription server bound to UDP ${this.#subscription.name} (fd ${this.#subscription.fd})`);
    }
    this.#nodes = options['http-to'].length > 0 ? [...options['http-to']] : server !== undefined || options['http-use-cluster'] ? [] : ownWorkerNode(host);
    // The instance's own workers keep links; a node elsewhere may be a uWSGI, and --http-modifier2 is the user's.
    this.#links = options['http-to'].length === 0 && server === undefined && !options['http-use-cluster'] && options['http-modifier2'] === 0;
    this.children = new ChildPool({
      noun: 'http router',
      spawn: (slot) => this.#spawn(host, slot),
      stop: (child) => child.process.kill('SIGTERM'),
      describe: () => `on ${this.#sockets.map((socket) => socket.name).join(', ')}`,
    }, options['reload-mercy'] * 1000 + EXTRA_MERCY_MS, () => host.wake());
    this.children.start(range(options['http-processes']));
  }

  #spawn(host: MasterHost, slot: number) {
    const fds = this.#sockets.map((socket) => socket.fd);
    const at = (fd: number) => FIRST_LISTENER_FD + fds.push(fd) - 1;
    const spec: RouterSpec = {
      id: slot,
      masterPid: process.pid,
      listeners: this.#sockets.map((socket) => socket.name),
      nodes: this.#nodes,
      links: this.#links,
      subscription: this.#subscription && { fd: at(this.#subscription.fd), family: this.#subscription.family },
      regionFd: host.options['http-use-cluster'] ? at(host.shared.region.fd) : undefined,
      options: host.options,
    };
    const logging = childLogging(host.options, FIRST_LISTENER_FD + fds.length); // the log pipes follow the last fd
    const child = spawn(process.execPath, [ROUTER_SCRIPT], {
      env: { ...process.env, [ROUTER_ENV]: JSON.stringify(spec), ...logging.env },
      stdio: ['inherit', logging.stdout, logging.stderr, 'ipc', ...fds, ...logging.extra],
    });
    logging.collect(child, `http ${slot}`);
    child.on('message', (message: { act?: unknown; packet?: unknown }) => {
      if (message?.act === 'ready') this.children?.markReady(child.pid ?? 0);
      // Siblings share the UDP socket, so each datagram reaches one of them: relay it to the others.
      else if (message?.act === 'subscription' && typeof message.packet === 'string') this.#relay(child.pid ?? 0, message.packet);
    });
    return child;
  }

  reload(): void {
    this.children?.reload();
  }

  stopGracefully(): void {
    this.children?.stopGracefully();
  }

  stopBrutally(): void {
    this.children?.stopBrutally();
  }

  waitingFor(): string | undefined {
    const alive = this.children?.children() ?? [];
    return alive.length === 0 ? undefined : `${alive.length} http router(s) (pid ${alive.map((child) => child.pid).join(', ')}) finishing their responses`;
  }

  /** uWSGI lists its gateways in the stats document; tsgi names each router process and its nodes. */
  stats(): StatsRows {
    if (this.children === undefined) return {};
    return { http_routers: this.children.children().map((child) => ({ id: child.slot, pid: child.pid, state: child.state, nodes: this.#nodes })) };
  }

  #relay(from: number, packet: string): void {
    for (const child of this.children?.children() ?? []) {
      if (child.pid !== from && child.process.connected) child.process.send({ act: 'subscription', packet });
    }
  }

  close(): void {
    closeSockets(this.#sockets);
    this.#sockets = [];
    if (this.#subscription !== undefined) native.close(this.#subscription.fd);
    this.#subscription = undefined;
    // The workers' socket tsgi made for the router is its own, not the user's: it goes with or
    // without --vacuum.
    for (const { text } of this.#options === null ? [] : routerWorkerSockets(this.#options)) rmSync(text, { force: true });
  }
}

/** The instance's first uwsgi socket (routerWorkerSockets made one if there was none). */
function ownWorkerNode(host: MasterHost): string[] {
  const socket = host.sockets.find((candidate) => candidate.protocol === 'uwsgi');
  if (socket === undefined) throw tsgiError('TSGI_ERR_HROUTER_NODE_DOWN', '--http has no node: give --http-to, or a uwsgi --socket for the workers');
  if (socket.address.kind === 'tcp') return [socket.name.startsWith(':') ? `127.0.0.1${socket.name}` : socket.name];
  return [socket.address.text];
}
