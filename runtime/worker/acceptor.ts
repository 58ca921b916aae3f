/**
 * Accepts connections on an inherited listening fd, and can stop accepting.
 *
 * Every worker accepts on the same fd (pre-fork: the kernel hands each connection to one of
 * them). Node's net.Server cannot pause accepting without closing its fd, and a worker whose
 * cores are all busy must leave new connections in the kernel backlog for its siblings, so the
 * fd is watched with the addon's uv_poll and accept4() is called only while a core is free.
 */
import { native, POLL_READABLE, type Poll } from '../native.js';
import { log } from '../logger.js';

const EAGAIN = -11;
const EMFILE = -24;
const ENFILE = -23;
/**
 * At most this many accept4() calls per readiness callback. Nothing is handed to a sibling:
 * every worker polls the same listening fd (level-triggered), so when connections are left
 * after the batch the fd is still readable, every worker's poll fires again, and the rest of
 * the burst goes to whichever accepts first, this worker included on its next loop turn. The
 * cap only stops one wake-up from draining a whole burst, so keep-alive connections (which
 * stay where they land) spread over the workers instead of piling onto whichever woke first.
 */
const ACCEPT_BATCH = 2;

export class Acceptor {
  readonly #poll: Poll;
  #paused = false;
  #closed = false;

  /**
   * @param canAccept whether a core is free for one more connection
   * @param onFull called when a connection is waiting but no core is free
   */
  constructor(
    readonly fd: number,
    readonly label: string,
    private readonly onConnection: (fd: number) => void,
    private readonly canAccept: () => boolean,
    private readonly onFull: () => void,
  ) {
    this.#poll = new native.Poll(fd, () => this.#acceptReady(), true);
    this.#poll.start(POLL_READABLE);
  }

  #acceptReady(): void {
    for (let i = 0; i < ACCEPT_BATCH; i++) {
      if (!this.canAccept()) {
        this.pause();
        return this.onFull();
      }
      const fd = native.accept(this.fd);
      if (fd >= 0) {
        this.onConnection(fd);
        continue;
      }
      if (fd === EAGAIN) return; // a sibling worker took it
      if (fd === EMFILE || fd === ENFILE) return this.#backOff();
      log(`accept on ${this.label} failed: errno ${-fd}`);
      return;
    }
  }

  /** Out of fds: stop for a moment instead of spinning on a connection we cannot take. */
  #backOff(): void {
    log(`accept on ${this.label}: out of file descriptors, pausing 100 ms (raise ulimit -n)`);
    this.pause();
    setTimeout(() => this.resume(), 100).unref();
  }

  pause(): void {
    if (this.#paused || this.#closed) return;
    this.#paused = true;
    this.#poll.stop();
  }

  resume(): void {
    if (!this.#paused || this.#closed) return;
    this.#paused = false;
    this.#poll.start(POLL_READABLE);
  }

  /** Stops accepting for good (graceful stop); the fd itself stays open for the master. */
  close(): void {
    this.#closed = true;
    this.#poll.close();
  }
}
