/**
 * The Mongrel2 handler's PULL and XPUB sockets on the addon's ZmqSocket (native/zmq.c) instead
 * of zeromq.js: no Promise, Deferred or external Buffer per message. Each wake-up takes the
 * queued requests with one recvBatch per burst, copied into one Buffer that is reused, and each
 * burst of responses leaves as one sendFrames. zeromq.js stays the fallback when the addon was
 * built without libzmq (see handler.ts).
 *
 * ZMQ_FD signals commands, not messages, and is edge-triggered: after a wake-up the socket is
 * read until EAGAIN, and a send on the XPUB (which may process its commands, the readiness of a
 * subscription included) is followed by a ZMQ_EVENTS check.
 */
import { threadId } from 'node:worker_threads';
import { native, Poll, POLL_READABLE, type Poll as PollHandle } from '../../native.js';

/** The addon's ZmqSocket; framing of recvBatch/sendFrames: [u32 LE: length | MORE << 31][bytes]. */
interface ZmqSocket {
  setOption(option: number, value: number | string): void;
  connect(endpoint: string): void;
  fd(): number;
  monitor(endpoint: string, events: number): void;
  events(): number;
  /** Up to `maxMessages` whole messages into `buffer`; 0 on EAGAIN; -(bytes needed) when the next one does not fit. */
  recvBatch(buffer: Buffer, maxMessages: number): number;
  /** buffer[0, length) as one multipart message. */
  sendFrames(buffer: Buffer, length: number): void;
  close(): void;
}
type ZmqSocketConstructor = new (type: number) => ZmqSocket;

/** Null when the addon was built without libzmq (scripts/detect-libzmq.mjs). */
export const NativeZmqSocket = (native as unknown as { ZmqSocket?: ZmqSocketConstructor }).ZmqSocket ?? null;

const ZMQ_PULL = 7;
const ZMQ_XPUB = 9;
const ZMQ_ROUTING_ID = 5;
const ZMQ_LINGER = 17;
const ZMQ_SNDHWM = 23;
const ZMQ_PAIR = 0;
/**
 * A connecting socket keeps its pipe through a reconnect, so a lost Mongrel2 unsubscribes
 * nothing: a monitor's disconnect event says it is gone, as on zeromq.js's path.
 */
const ZMQ_EVENT_DISCONNECTED = 0x0200;
let monitors = 0;
/** Every subscription and unsubscription, a lost connection's included: the subscriber count stays exact. */
const ZMQ_XPUB_VERBOSER = 78;
const ZMQ_POLLIN = 1;
const MORE = 0x80000000;
const LENGTH = 0x7fffffff;
/** Messages read back to back before the loop yields to the event loop (timers, IPC, other sockets). */
const BURST = 256;
/**
 * At most this many messages per recvBatch, and never more than the free cores: a message taken
 * is one Mongrel2's PUSH no longer offers to this worker's siblings.
 */
const BATCH = 64;

/** What the link asks of its handler. */
export interface LinkOwner {
  /** How many more requests the handler takes now: its free cores, 0 while its backlog waits. */
  takeable(): number;
  /** One single-part message. It is a view of a reused buffer: valid only during the call. */
  handle(message: Buffer): void;
  /** A multipart message, which Mongrel2 never sends. */
  dropped(frames: number): void;
  /** A send failed (the socket is broken: the PUB has no high-water mark to hit). */
  publishFailed(error: Error): void;
  /** Mongrel2 subscribed (true) or its last subscription went away (false). */
  subscriptionChanged(subscribed: boolean): void;
}

export class NativeLink {
  readonly #pull: ZmqSocket;
  readonly #pub: ZmqSocket;
  readonly #pullPoll: PollHandle;
  readonly #pubPoll: PollHandle;
  readonly #monitor: ZmqSocket;
  readonly #monitorPoll: PollHandle;
  #in = Buffer.allocUnsafe(256 * 1024);
  /** The XPUB's own: it is read from inside a flush, while #in's messages are being handled. */
  #pubIn = Buffer.allocUnsafe(4096);
  #out = Buffer.allocUnsafe(64 * 1024);
  #outLength = 0;
  #outFrames = 0;
  #subscribers = 0;
  #reading = false;
  /** Inside the receive loop, which flushes what the requests it handed on published. */
  pumping = false;
  #yielded = false;
  pullClosed = false;
  pubClosed = false;
  /** When the last burst was sent (ms): a stopping worker gives the I/O thread time to write it. */
  lastFlush = 0;

  constructor(readonly owner: LinkOwner, spec: { pull: string; pub: string }, identity: string) {
    const pub = (this.#pub = new NativeZmqSocket!(ZMQ_XPUB));
    const pull = (this.#pull = new NativeZmqSocket!(ZMQ_PULL));
    const monitor = (this.#monitor = new NativeZmqSocket!(ZMQ_PAIR));
    try {
      // PUB never blocks (no high-water mark: at one it would drop and cut responses short).
      pub.setOption(ZMQ_SNDHWM, 0);
      pub.setOption(ZMQ_LINGER, 1000);
      pub.setOption(ZMQ_XPUB_VERBOSER, 1);
      pub.setOption(ZMQ_ROUTING_ID, identity);
      // linger 0: a stopping worker's close must end the connection at once, or Mongrel2's
      // PUSH goes on routing requests to the lingering session, and they are lost.
      pull.setOption(ZMQ_LINGER, 0);
      const events = `inproc://tsgi-zmq-monitor-${threadId}-${++monitors}`; // inproc names are per process: threads must not share one
      pub.monitor(events, ZMQ_EVENT_DISCONNECTED);
      monitor.connect(events);
      pub.connect(spec.pub);
      pull.connect(spec.pull);
      this.#pubPoll = new Poll(pub.fd(), this.#readPub);
      this.#pullPoll = new Poll(pull.fd(), this.#onPullReady);
      this.#monitorPoll = new Poll(monitor.fd(), this.#readMonitor);
    } catch (error) {
      monitor.close();
      pub.close();
      pull.close();
      throw error;
    }
    this.#pubPoll.start(POLL_READABLE);
    this.#monitorPoll.start(POLL_READABLE);
    this.#readPub(); // edge-triggered: what is queued already signals nothing
    this.#readMonitor();
  }

  /** Reads requests while the handler takes them; stops polling the PULL when it takes none. */
  resume(): void {
    if (this.pullClosed || this.pumping) return;
    if (!this.#reading) {
      this.#reading = true;
      this.#pullPoll.start(POLL_READABLE);
    }
    this.#pump();
  }

  readonly #onPullReady = (): void => this.#pump();

  #pump(): void {
    if (this.pumping || this.pullClosed) return;
    if (this.#subscribers === 0) return this.#stopReading(); // the handler resumes on a subscription
    this.pumping = true;
    let drained = false;
    let budget = BURST;
    try {
      for (let take = this.owner.takeable(); take > 0 && budget > 0 && !this.pullClosed; take = this.owner.takeable()) {
        const count = this.#receive(Math.min(take, BATCH));
        if (count === 0) {
          drained = true;
          break;
        }
        budget -= count;
      }
    } finally {
      this.pumping = false;
    }
    this.flush();
    if (this.pullClosed) return;
    if (this.owner.takeable() === 0) this.#stopReading();
    else if (!drained && !this.#yielded) {
      this.#yielded = true;
      setImmediate(this.#afterYield);
    }
  }

  /** ZMQ_FD stays readable while messages wait unread: a started poll would spin. */
  #stopReading(): void {
    if (!this.#reading) return;
    this.#reading = false;
    this.#pullPoll.stop();
  }

  readonly #afterYield = (): void => {
    this.#yielded = false;
    this.#pump();
  };

  /** One recvBatch into the reused buffer, each message handed on; returns how many (0: none queued). */
  #receive(max: number): number {
    let count = this.#pull.recvBatch(this.#in, max);
    if (count < 0) {
      this.#in = Buffer.allocUnsafe(Math.max(-count, this.#in.length * 2));
      count = this.#pull.recvBatch(this.#in, max);
    }
    const input = this.#in;
    let at = 0;
    for (let message = 0; message < count; message++) {
      let word = input.readUInt32LE(at);
      if ((word & MORE) === 0) {
        this.owner.handle(input.subarray(at + 4, at + 4 + word));
        at += 4 + word;
        continue;
      }
      let frames = 1;
      for (; (word & MORE) !== 0; frames++) {
        at += 4 + (word & LENGTH);
        word = input.readUInt32LE(at);
      }
      at += 4 + (word & LENGTH);
      this.owner.dropped(frames);
    }
    return count;
  }

  /**
   * Stop, first step: takes every message still queued for this worker (sent to it and to no
   * other) and hands them on, then closes the PULL so Mongrel2 routes to the siblings.
   */
  closePull(): number {
    if (this.pullClosed) return 0;
    let taken = 0;
    for (let count = this.#receive(BATCH); count > 0; count = this.#receive(BATCH)) taken += count;
    this.pullClosed = true;
    this.#pullPoll.close();
    this.#pull.close();
    return taken;
  }

  /** Queues one response frame for the next {@link flush}. */
  queue(message: Buffer): void {
    const need = this.#outLength + 4 + message.length;
    if (need > this.#out.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.#out.length * 2));
      this.#out.copy(grown, 0, 0, this.#outLength);
      this.#out = grown;
    }
    this.#out.writeUInt32LE(message.length, this.#outLength);
    message.copy(this.#out, this.#outLength + 4);
    this.#outLength = need;
    this.#outFrames++;
  }

  get queuedFrames(): number {
    return this.#outFrames;
  }

  get queuedBytes(): number {
    return this.#outLength;
  }

  /** Sends what is queued as one multipart message (the handler keeps one sender per burst). */
  flush(): void {
    if (this.#outLength === 0 || this.pubClosed) return;
    const length = this.#outLength;
    this.#outLength = this.#outFrames = 0;
    this.lastFlush = Date.now();
    try {
      this.#pub.sendFrames(this.#out, length);
    } catch (error) {
      this.owner.publishFailed(error as Error);
    }
    // The send may have processed the XPUB's commands, a new subscription's among them, which
    // then signals nothing more on ZMQ_FD. That matters only while nobody is subscribed (a
    // ZMQ_EVENTS is a poll(2) on the mailbox: not one per burst): what queues meanwhile is
    // drained before a disconnect resets the count (#readMonitor).
    if (this.#subscribers === 0 && (this.#pub.events() & ZMQ_POLLIN) !== 0) this.#readPub();
  }

  /** (Un)subscriptions: [1 | 0][topic]; Mongrel2 subscribes to its sender UUID. */
  readonly #readPub = (): void => {
    if (this.pubClosed) return;
    const before = this.#subscribers;
    for (let count = this.#pub.recvBatch(this.#pubIn, BATCH); count !== 0; count = this.#pub.recvBatch(this.#pubIn, BATCH)) {
      if (count < 0) {
        this.#pubIn = Buffer.allocUnsafe(-count);
        continue;
      }
      const input = this.#pubIn;
      for (let message = 0, at = 0; message < count; message++) {
        let word = input.readUInt32LE(at);
        const kind = (word & LENGTH) > 0 ? input[at + 4] : -1;
        if (kind === 1) this.#subscribers++;
        else if (kind === 0 && this.#subscribers > 0) this.#subscribers--;
        at += 4 + (word & LENGTH);
        while ((word & MORE) !== 0) {
          word = input.readUInt32LE(at);
          at += 4 + (word & LENGTH);
        }
      }
    }
    if ((before === 0) !== (this.#subscribers === 0)) this.owner.subscriptionChanged(this.#subscribers > 0);
  };

  /** A disconnect event ([u16 event][u32 value], then the endpoint): Mongrel2's subscriptions went with it. */
  readonly #readMonitor = (): void => {
    if (this.pubClosed) return;
    let lost = false;
    for (let count = this.#monitor.recvBatch(this.#pubIn, BATCH); count !== 0; count = this.#monitor.recvBatch(this.#pubIn, BATCH)) {
      if (count < 0) {
        this.#pubIn = Buffer.allocUnsafe(-count);
        continue;
      }
      lost = true;
    }
    if (!lost || this.#subscribers === 0) return;
    this.#readPub(); // what queued unseen while subscribed is older than the disconnect
    this.#subscribers = 0;
    this.owner.subscriptionChanged(false);
  };

  /** Closes both sockets (the PUB lingers up to 1 s to put its last bytes on the wire). */
  close(): void {
    if (!this.pullClosed) {
      this.pullClosed = true;
      this.#pullPoll.close();
      this.#pull.close();
    }
    if (this.pubClosed) return;
    this.pubClosed = true;
    this.#pubPoll.close();
    this.#pub.close();
    this.#monitorPoll.close();
    this.#monitor.close();
  }
}
