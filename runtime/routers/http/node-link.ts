/**
 * The router's connections to nodes, on the addon's C connection path (a {@link ConnServer} that
 * never accepts, and adopts the sockets the router connects): net.Socket's per-connection
 * streams cost more CPU than relaying a small request, and a uwsgi node takes one connection
 * per request. Node addresses are parsed once.
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

export class NodeLink {
  readonly conns: ConnServer;
  readonly #owners: Array<NodeConnectionOwner | undefined> = [];
  readonly #connects = new Map<NodeAddress, Connect>();

  /** `anyListenFd`: the addon wants a listening socket for a ConnServer; this one is never started. */
  constructor(anyListenFd: number) {
    this.conns = new native.ConnServer(anyListenFd, (fd, chunk) => this.#data(fd, chunk), (fd) => this.#owners[fd]?.onNodeDrain());
  }

  /** Connects to `node` and adopts the socket; throws a system error (ECONNREFUSED, ENOENT, EAGAIN…). */
  connect(node: NodeAddress, owner: NodeConnectionOwner): number {
    const fd = this.#connectTo(node)();
    this.#owners[fd] = owner;
    this.conns.adopt(fd);
    return fd;
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
    if (chunk === null) this.#owners[fd] = undefined;
    owner?.onNodeData(chunk);
  }

  /** The exchange is over: close now (nothing more is reported for `fd`). */
  close(fd: number): void {
    if (this.#owners[fd] === undefined) return;
    this.#owners[fd] = undefined;
    this.conns.destroy(fd);
  }
}
