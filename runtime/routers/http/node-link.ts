/**
 * The router's connections to nodes, on the addon's C connection path (a {@link ConnServer} that
 * never accepts, and adopts the sockets the router connects): net.Socket's per-connection
 * streams cost more CPU than relaying a small request. A uwsgi node takes one connection per
 * request; the instance's own workers also keep a connection open as a link for the next request
 * (LINK_MODIFIER2), and the idle links wait here, newest first, until an exchange takes one.
 * Node addresses are parsed once.
 */
import { abstractPath, parseAddress, unixPath } from '../../address.js';
import { native, type ConnServer } from '../../native.js';
import type { NodeAddress } from './node-picker.js';

/** What a node connection reports to its owner. */
export interface NodeConnectionOwner {
  /** Bytes from the node, or null once: the node closed, reset, or the connect failed. */
  onNodeData(chunk: Buffer | null): void;
  /** The bytes queued for the node are out (the first time: the TCP connect completed). */
  onNodeDrain(): void;
}

type Connect = () => number;

/** An idle link closes after this long unused, well before a worker gives up on it (LINK_IDLE_MS there). */
export const ROUTER_LINK_IDLE_MS = 15_000;
/** Idle links kept per node at most; a burst of more concurrent requests closes the rest after it. */
const MAX_IDLE_LINKS = 256;

/** A worker at the other end of links, as its hello names it, and what the router has sent it. */
export interface LinkedWorker {
  /** pid × 65536 + thread id. */
  readonly key: number;
  /** Requests of this router on its links now. */
  inFlight: number;
  /** How many it serves at once (its cores). */
  readonly cores: number;
  /** Open links to it, idle or not. */
  links: number;
}

interface IdleLink {
  fd: number;
  since: number;
  worker: LinkedWorker;
}

export class NodeLink {
  readonly conns: ConnServer;
  readonly #owners: Array<NodeConnectionOwner | undefined> = [];
  readonly #connects = new Map<NodeAddress, Connect>();
  /** Idle links by node, the most recently used last. */
  readonly #idle = new Map<NodeAddress, IdleLink[]>();
  /** What an idle link reports: anything at all (the worker closed it) ends it. */
  readonly #idleOwner: NodeConnectionOwner;
  /** The router stops: links close after their exchange. */
  #keeping = true;
  /** Workers by key. */
  readonly #workers = new Map<number, LinkedWorker>();
  /** Requests on links (new ones too, whose worker has not said hello yet), and the cores of the workers known. */
  inFlight = 0;
  #capacity = 0;

  /**
   * `anyListenFd`: the addon wants a listening socket for a ConnServer; this one is never started.
   * `queueOnLinks`: when every worker is busy a request waits on the least loaded worker's link;
   * false (--cheaper) sends it to the listen queue instead, where the cheaper algorithms see it.
   */
  constructor(anyListenFd: number, readonly queueOnLinks: boolean) {
    this.conns = new native.ConnServer(anyListenFd, (fd, chunk) => this.#data(fd, chunk), (fd) => this.#owners[fd]?.onNodeDrain());
    this.#idleOwner = { onNodeData: () => {}, onNodeDrain: () => {} };
  }

  /** Connects to `node` and adopts the socket; throws a system error (ECONNREFUSED, ENOENT, EAGAIN…). */
  connect(node: NodeAddress, owner: NodeConnectionOwner): number {
    const fd = this.#connectTo(node)();
    this.#owners[fd] = owner;
    this.conns.adopt(fd);
    return fd;
  }

  /**
   * An idle link to `node` for the next request, now `owner`'s, or undefined for a new
   * connection. A link pins its request to one worker, so the pick balances as the kernel's
   * accept queue would: the most recently used link of a worker with a core free; else, while
   * some worker may have one (fewer requests in flight than the cores known), a new connection,
   * which only a worker with a free core accepts; else the least loaded worker's link (with
   * `queueOnLinks`, else a new connection too).
   */
  takeIdle(node: NodeAddress, owner: NodeConnectionOwner): IdleLink | undefined {
    const links = this.#idle.get(node);
    if (links === undefined || links.length === 0) return undefined;
    let at = links.length - 1;
    while (at >= 0 && links[at]!.worker.inFlight >= links[at]!.worker.cores) at--;
    if (at < 0) {
      if (!this.queueOnLinks || this.inFlight < this.#capacity) return undefined;
      at = links.length - 1;
      for (let i = at - 1; i >= 0; i--) if (links[i]!.worker.inFlight < links[at]!.worker.inFlight) at = i;
    }
    const link = at === links.length - 1 ? links.pop()! : links.splice(at, 1)[0]!;
    this.#owners[link.fd] = owner;
    return link;
  }

  /** The worker behind a new link, from its hello; one more link to it. */
  linked(pid: number, thread: number, cores: number): LinkedWorker {
    const key = pid * 65536 + thread;
    let worker = this.#workers.get(key);
    if (worker === undefined) {
      this.#workers.set(key, (worker = { key, inFlight: 0, cores, links: 0 }));
      this.#capacity += cores;
    }
    worker.links++;
    return worker;
  }

  /** A link to `worker` closed: a worker without links is forgotten (it may be gone). */
  unlinked(worker: LinkedWorker): void {
    if (--worker.links > 0 || this.#workers.get(worker.key) !== worker) return;
    this.#workers.delete(worker.key);
    this.#capacity -= worker.cores;
  }

  /** The exchange on `fd` is over and `worker` keeps the link: it waits for the next one. */
  keepIdle(fd: number, node: NodeAddress, worker: LinkedWorker): void {
    let links = this.#idle.get(node);
    if (links === undefined) this.#idle.set(node, (links = []));
    if (links.length >= MAX_IDLE_LINKS || !this.#keeping) {
      this.unlinked(worker);
      return this.close(fd);
    }
    this.#owners[fd] = this.#idleOwner;
    links.push({ fd, since: Date.now(), worker });
  }

  /** The router stops: every idle link closes now, the others after their exchange. */
  stopKeeping(): void {
    this.#keeping = false;
    this.closeIdle(Infinity);
  }

  /** Closes the links idle since before `before`. */
  closeIdle(before: number): void {
    for (const links of this.#idle.values()) {
      let stale = 0;
      while (stale < links.length && links[stale]!.since < before) stale++;
      for (const link of links.splice(0, stale)) {
        this.unlinked(link.worker);
        this.close(link.fd);
      }
    }
  }

  #connectTo(node: NodeAddress): Connect {
    let connect = this.#connects.get(node);
    if (connect === undefined) {
      const address = parseAddress(node);
      if (address.kind === 'tcp') {
        const host = address.host || '127.0.0.1';
        connect = () => native.connectTcpNonBlocking(host, address.port);
      } else {
        const path = address.kind === 'unix' ? unixPath(address.path) : abstractPath(address.name);
        connect = () => native.connectUnixNonBlocking(path);
      }
      this.#connects.set(node, connect);
    }
    return connect;
  }

  #data(fd: number, chunk: Buffer | null): void {
    const owner = this.#owners[fd];
    if (owner === this.#idleOwner) return chunk === null || chunk.length > 0 ? this.#dropIdle(fd, chunk === null) : undefined;
    if (chunk === null) this.#owners[fd] = undefined;
    owner?.onNodeData(chunk);
  }

  /** An idle link the worker closed (or, against the protocol, wrote to): it is gone from the pool. */
  #dropIdle(fd: number, closed: boolean): void {
    for (const links of this.#idle.values()) {
      const at = links.findIndex((link) => link.fd === fd);
      if (at >= 0) this.unlinked(links.splice(at, 1)[0]!.worker);
    }
    if (closed) this.#owners[fd] = undefined;
    else this.close(fd);
  }

  /** The exchange is over: close now (nothing more is reported for `fd`). */
  close(fd: number): void {
    if (this.#owners[fd] === undefined) return;
    this.#owners[fd] = undefined;
    this.conns.destroy(fd);
  }
}
