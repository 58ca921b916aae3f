/**
 * `--zmq PULL,PUB`: the worker is a Mongrel2 handler (uWSGI's `plugins/mongrel2/mongrel2.c`). It connects a PULL
 * socket to Mongrel2's PUSH (requests) and a PUB socket to its SUB (responses); every request
 * gets a core, as on any other socket, and every chunk the app produces is published as its own
 * message `UUID len:ID, <raw HTTP bytes>`, followed by an empty one that closes the connection.
 *
 * Several workers connect to the same pair: Mongrel2's PUSH spreads requests among them, and a
 * worker whose cores are all busy stops reading its PULL so the requests go to its siblings.
 * The PUB socket is an XPUB, to see when Mongrel2 has subscribed (see #awaitSubscriber).
 */
import { createReadStream } from 'node:fs';
import { resolve, sep } from 'node:path';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Pull, XPublisher } from 'zeromq';
import type { Core } from '../../worker/core.js';
import { Environ } from '../../worker/environ.js';
import { tsgiError } from '../../errors.js';
import { IncomingInput, PushedInput } from '../../worker/input.js';
import { ZMQ_WRITER, ZmqRequest, type RequestOwner } from './request.js';
import { log } from '../../logger.js';
import {
  DISCONNECT, INVALID, Mongrel2Reader, REQUEST, parseZmqSpec, requestKeepAlive, responsePrefix,
} from './mongrel2-parser.js';
import { registerProtocol, type Listener, type ProtocolContext, type ProtocolServer } from '../registry.js';
import { CLIENT_GONE } from '../response.js';
import { NativeLink, NativeZmqSocket, type LinkOwner } from './native-link.js';
/** How long the PUB socket stays open after the last message before a stopping worker closes it. */
const FLUSH_MS = 200;
/**
 * How long a disconnect notice for a request this worker has not read (yet) is remembered: the
 * request may still be waiting in a PULL queue or the backlog. Connection ids are unique while
 * Mongrel2 runs (they restart at 1 when it restarts, and the memory is cleared then).
 */
const GONE_MEMORY_MS = 10_000;
/** At most this many remembered notices (oldest dropped first): memory stays bounded under a flood. */
const GONE_MEMORY_MAX = 10_000;
/** ZMQ_IDENTITY: zeromq.js exposes it (as routingId) only on REQ/REP/DEALER/ROUTER sockets. */
const ZMQ_IDENTITY = 5;
/** Messages read back to back in microtasks before the receive chain yields to the event loop (zeromq.js: 512). */
const EAGER_BURST = 256;
/** At most this many response frames, or about this many bytes, go out in one multipart send. */
const MAX_BATCH = 64;
const MAX_BATCH_BYTES = 1024 * 1024;
const EMPTY = Buffer.alloc(0);
const noop = (): void => {};

type State = 'unconnected' | 'running' | 'stopping' | 'closed';

/**
 * One `--zmq PULL,PUB` pair, registered as protocol `zmq`: the worker connects it out (instead
 * of accepting on an inherited fd) and then treats it as any other protocol server. Its
 * "listener" is the PULL side: closing it stops taking requests, as closing an accept does.
 */
class ZmqHandler implements ProtocolServer, RequestOwner {
  /** ZMQ identity of the PUB socket, as uWSGI sets it: a random UUID per worker. */
  readonly uuid = randomUUID();
  /** Requests in flight by `sender SP connId`: the newest, linked to the older ones (a disconnect halts them all). */
  readonly byConn = new Map<string, ZmqRequest>();
  readonly #requests: ZmqRequest[] = [];
  readonly #reader = new Mongrel2Reader(hostname());
  #state: State = 'unconnected';
  /** Mongrel2's SUB is connected and subscribed: what we publish reaches it. */
  #subscribed = false;
  #everSubscribed = false;
  /** A receive is pending on the XPUB: only while not subscribed (see #awaitSubscriber). */
  #awaitingSubscriber = false;
  #receiving = false;
  /** The PULL socket reads with receiveTimeout 0 (see #pump). */
  #eager = false;
  /** Messages read since the chain last yielded to the event loop. */
  #burst = 0;
  /**
   * Messages taken from the PULL socket that wait for a core (another socket took the last
   * one, or a stopping worker emptied its queue), oldest from #backlogHead on.
   */
  readonly #backlog: Buffer[] = [];
  #backlogHead = 0;
  /** Receives made by the stop drain whose messages are not handled yet. */
  #taking = 0;
  #inFlight = 0;
  /** Finished requests whose responses wait for an older one on their connection. */
  #parked = 0;
  #lastPublish = 0;
  /** Response messages not sent yet, all to #outboxSender (see publish). */
  #outbox: Buffer[] = [];
  #outboxBytes = 0;
  #outboxSender = '';
  #flushDue = false;
  /**
   * Disconnect notices for connections with no request here: `sender SP connId` → until when
   * (ms). A request read later for one of them is halted as soon as it starts.
   */
  readonly #gone = new Map<string, number>();
  /** Notices to pass on to the sibling workers, sent together once this loop turn ends. */
  #relayOut: string[] = [];

  // Set by connect(): the handler exists before its sockets do (zeromq is imported on demand).
  private spec!: { pull: string; pub: string };
  private pull!: Pull;
  private pub!: XPublisher;
  /** The addon's sockets (native-link.ts) when it has them: then pull/pub above stay unset. */
  #link: NativeLink | null = null;

  constructor(readonly context: ProtocolContext) {}

  /** Connects both sockets; requests are read once Mongrel2 has subscribed to the PUB socket. */
  async connect(text: string): Promise<Listener> {
    const spec = parseZmqSpec(text);
    // TSGI_ZMQ_SOCKETS=zeromq.js: the fallback path on purpose (its tests, side-by-side benches).
    if (NativeZmqSocket !== null && process.env.TSGI_ZMQ_SOCKETS !== 'zeromq.js') return this.#connectNative(spec, text);
    let zmq: typeof import('zeromq');
    try {
      zmq = await import('zeromq');
    } catch (error) {
      throw tsgiError('TSGI_ERR_ZMQ_CONNECT', `cannot load the zeromq package: ${(error as Error).message}`, { cause: error });
    }
    // PUB never blocks: at the high-water mark it drops, which would cut responses short. No
    // limit, and sendTimeout 0 so send() always queues at once (zeromq.js otherwise defers every
    // 512th send to the next loop turn and rejects the sends made meanwhile with EBUSY).
    const pub = new zmq.XPublisher({ sendHighWaterMark: 0, sendTimeout: 0, linger: 1000 });
    // Every subscription, not only the first of a topic: Mongrel2 subscribes again when it
    // reconnects (a restart), and that is when the worker may read requests again.
    pub.verbosity = 'allSubs';
    // linger 0: a stopping worker's close() must end the TCP connection at once. A lingering
    // session keeps it up, Mongrel2's PUSH goes on routing requests to it, and they are lost.
    const pull = new zmq.Pull({ linger: 0 });
    try {
      (pub as unknown as { setStringOption(option: number, value: string): void }).setStringOption(ZMQ_IDENTITY, this.uuid);
      pub.events.on('disconnect', () => this.#lostSubscriber());
      pub.connect(spec.pub);
      pull.connect(spec.pull);
      this.spec = spec;
      this.pull = pull;
      this.pub = pub;
      this.#state = 'running';
      this.#awaitSubscriber();
      const why = NativeZmqSocket === null ? 'the addon was built without libzmq: install libzmq3-dev and rebuild it' : 'TSGI_ZMQ_SOCKETS=zeromq.js';
      log(`zmq: UUID for responder ${spec.pub}: ${this.uuid}; pulling from ${spec.pull} once Mongrel2 subscribes (zeromq.js sockets: ${why})`);
      return { pause: noop, resume: () => this.#pump(), close: () => this.#stopReceiving() };
    } catch (error) {
      pub.close();
      pull.close();
      throw tsgiError('TSGI_ERR_ZMQ_CONNECT', `cannot connect --zmq ${text}: ${(error as Error).message}`, { cause: error });
    }
  }

  #connectNative(spec: { pull: string; pub: string }, text: string): Listener {
    // Set before the link exists: its constructor reads subscriptions Mongrel2 already sent, and
    // says so through #linkOwner, which logs the spec.
    this.spec = spec;
    this.#state = 'running';
    try {
      this.#link = new NativeLink(this.#linkOwner, spec, this.uuid);
    } catch (error) {
      throw tsgiError('TSGI_ERR_ZMQ_CONNECT', `cannot connect --zmq ${text}: ${(error as Error).message}`, { cause: error });
    }
    this.#pump(); // a subscription the link read while it was made
    log(`zmq: UUID for responder ${spec.pub}: ${this.uuid}; pulling from ${spec.pull} once Mongrel2 subscribes (native libzmq sockets)`);
    return { pause: noop, resume: () => this.#pump(), close: () => this.#stopReceiving() };
  }

  readonly #linkOwner: LinkOwner = {
    takeable: () => (this.#state === 'running' && this.#backlogHead === this.#backlog.length ? this.context.scheduler.freeCount : 0),
    handle: (message) => this.#handle(message),
    publishFailed: (error) => onPublishError(error),
    dropped: (frames) => log(`zmq: dropping a ${frames}-part message: TSGI_ERR_ZMQ_MESSAGE: Mongrel2 sends single-part messages`),
    subscriptionChanged: (subscribed) => {
      if (this.#state === 'closed') return;
      if (subscribed) {
        this.#subscribed = true;
        log(`zmq: Mongrel2 subscribed${this.#everSubscribed ? ' again' : ''} on ${this.spec.pub}: pulling requests from ${this.spec.pull}`);
        this.#everSubscribed = true;
        this.#pump();
      } else this.#lostSubscriber();
    },
  };

  /**
   * The PUB socket is an XPUB so the worker sees Mongrel2's subscription arrive: a response
   * published before that would be dropped (ZeroMQ's slow joiner), so requests are read only
   * from then on. They wait in the PULL socket meanwhile (milliseconds, at boot or a restart).
   *
   * No receive stays pending on the XPUB once Mongrel2 has subscribed: with one pending,
   * zeromq.js checks after every send() whether it can complete (a ZMQ_EVENTS getsockopt,
   * which is a poll(2) on the socket's mailbox), a syscall per response. Only a disconnect
   * (#lostSubscriber) makes the worker wait for a subscription again; what queued on the XPUB
   * meanwhile is read then (an unsubscription on the lost pipe is skipped, as always).
   */
  #awaitSubscriber(): void {
    if (this.#awaitingSubscriber || this.pub.closed) return;
    this.#awaitingSubscriber = true;
    this.pub.receive().then(([frame]) => {
      this.#awaitingSubscriber = false;
      if (this.#state === 'closed') return;
      if (frame !== undefined && frame[0] === 1 && !this.#subscribed) {
        this.#subscribed = true;
        log(`zmq: Mongrel2 subscribed${this.#everSubscribed ? ' again' : ''} on ${this.spec.pub}: pulling requests from ${this.spec.pull}`);
        this.#everSubscribed = true;
        this.#pump();
      }
      if (!this.#subscribed) this.#awaitSubscriber();
    }, () => {
      this.#awaitingSubscriber = false; // rejected once the socket closes
    });
  }

  /** Mongrel2's SUB went away: responses would be lost until it subscribes again. */
  #lostSubscriber(): void {
    if (!this.#subscribed || this.#state === 'closed') return;
    this.#subscribed = false;
    this.#gone.clear(); // a restarted Mongrel2 counts connection ids from 1 again
    log(`zmq: Mongrel2 disconnected from ${this.spec.pub}: not pulling requests until it subscribes again`);
    if (this.#link === null) this.#awaitSubscriber();
  }

  /**
   * Requests this worker still owes an answer (Mongrel2 holds the client connections): waiting
   * for a core, running, parked behind an older one, or being taken out of the PULL socket by
   * the stop drain. While stopping with the PULL still open (a receive is due to bring one more
   * message, see #closePull) that one counts too, so the worker does not close under it.
   */
  get connections(): number {
    const due = this.#state === 'stopping' && this.#link === null && !this.pull.closed ? 1 : 0;
    return this.#backlog.length - this.#backlogHead + this.#inFlight + this.#parked + this.#taking + due;
  }

  /**
   * Reads the next message, one at a time and only while a core is free (the worker resumes
   * the listener when one frees). Meanwhile requests queue in this worker's ZeroMQ pipe, and once it
   * is at its high-water mark Mongrel2's PUSH passes this worker over for its siblings.
   *
   * Once a message has arrived the PULL socket reads with receiveTimeout 0 (#eager): receive()
   * then takes the next queued message at once, or rejects with EAGAIN when there is none,
   * without asking the socket first whether one is there (zeromq.js's ZMQ_EVENTS check, a
   * poll(2) per message otherwise). Only EAGAIN puts it back to waiting in zeromq.js's poller.
   * The chain runs in microtasks, so it yields to the event loop every EAGER_BURST messages.
   */
  #pump(): void {
    if (this.#receiving || this.#state !== 'running' || !this.#subscribed) return;
    if (!this.#serveBacklog() || this.context.scheduler.freeCount === 0) return;
    // (no link yet and no zeromq.js socket: the native link is being made and reports early)
    if (this.#link !== null || this.pull === undefined) return this.#link?.resume();
    this.#receiving = true;
    if (++this.#burst > EAGER_BURST) {
      this.#burst = 0;
      this.#flush();
      setImmediate(this.#receiveLater);
      return;
    }
    this.pull.receive().then(this.#onMessage, this.#onReceiveError);
  }

  readonly #receiveLater = (): void => {
    if (this.#state !== 'running') {
      this.#receiving = false;
      if (this.#state === 'stopping') this.#closePull();
      return;
    }
    this.pull.receive().then(this.#onMessage, this.#onReceiveError);
  };

  #setEager(eager: boolean): void {
    if (this.#eager === eager || this.pull.closed) return;
    this.#eager = eager;
    this.pull.receiveTimeout = eager ? 0 : -1;
  }

  readonly #onMessage = (frames: Buffer[]): void => {
    this.#receiving = false;
    this.#setEager(true);
    if (frames.length === 1) this.#handle(frames[0]!);
    else log(`zmq: dropping a ${frames.length}-part message: TSGI_ERR_ZMQ_MESSAGE: Mongrel2 sends single-part messages`);
    if (this.#state === 'stopping') this.#closePull();
    else this.#pump();
  };

  /** A message the stop drain took: handled like any other, after the ones taken before it. */
  readonly #onTaken = (frames: Buffer[]): void => {
    this.#taking--;
    if (frames.length === 1) this.#handle(frames[0]!);
  };

  readonly #onTakeError = (error: Error): void => {
    this.#taking--;
    log(`zmq: taking a queued request from ${this.spec.pull} while stopping failed: ${error.message}`);
  };

  readonly #onReceiveError = (error: Error): void => {
    this.#receiving = false;
    if (this.#state === 'stopping') return this.#closePull();
    if (this.#state !== 'running') return; // closed by stop()
    if (this.#eager && (error as { code?: string }).code === 'EAGAIN') {
      // Nothing queued: wait in zeromq.js's poller for the next message.
      this.#setEager(false);
      this.#burst = 0;
      this.#flush();
      return this.#pump();
    }
    log(`zmq: receive on ${this.spec.pull} failed: ${error.message}; retrying in 100 ms`);
    setTimeout(() => this.#pump(), 100);
  };

  #handle(message: Buffer): void {
    const env = new Environ();
    const reader = this.#reader;
    const status = reader.read(message, env);
    if (status === REQUEST) {
      if (reader.uploadFile !== null && this.#uploadPath(reader.uploadFile) === null) return;
      const core = this.context.scheduler.acquire();
      if (core === null) {
        // Read again when a core frees (the reader is shared); a copy, as native messages are views of a reused buffer.
        this.#backlog.push(this.#link === null ? message : Buffer.from(message));
        return this.context.onFull();
      }
      return this.#serve(core, env, reader);
    }
    if (status === DISCONNECT) return this.#disconnect(`${reader.sender} ${reader.connId}`);
    if (status === INVALID) log(`zmq: dropping a ${message.length}-byte message: TSGI_ERR_ZMQ_MESSAGE: ${reader.why}: ${preview(message)}`);
    // IGNORED: an upload still in progress or a JSON message, which uWSGI drops silently too.
  }

  #serve(core: Core, env: Environ, reader: Mongrel2Reader): void {
    let request = this.#requests[core.index];
    // A parked request still holds its response: this core's next one needs its own object.
    if (request === undefined || request.parked) request = this.#requests[core.index] = new ZmqRequest(this);
    request.core = core;
    request.gone = false;
    request.sender = reader.sender;
    request.key = `${reader.sender} ${reader.connId}`;
    request.prefix = responsePrefix(reader.sender, reader.connId);
    const older = this.byConn.get(request.key) ?? null;
    request.older = older;
    request.newer = null;
    request.held = null;
    if (older !== null) older.newer = request;
    this.byConn.set(request.key, request);
    this.#inFlight++;
    // The client left before this request was read (its notice came first, maybe to a sibling).
    const goneAt = this.#gone.size === 0 ? undefined : this.#gone.get(request.key);
    if (goneAt !== undefined && goneAt > Date.now()) request.gone = true;
    if (env.SERVER_PROTOCOL === undefined) env.SERVER_PROTOCOL = 'HTTP/1.0';
    request.keepAlive = requestKeepAlive(env);
    const scheme = env.UWSGI_SCHEME;
    env['tsgi.url_scheme'] = typeof scheme === 'string' && scheme !== '' ? scheme : 'http';
    request.upload = null;
    if (reader.uploadFile !== null) {
      const file = (request.upload = this.#uploadPath(reader.uploadFile)!);
      const stream = createReadStream(file);
      // The app sees the read error through tsgi.input; the log says which file and why.
      stream.once('error', (error) => log(`zmq: TSGI_ERR_ZMQ_UPLOAD: cannot read upload ${file} (x-mongrel2-upload-done ${JSON.stringify(reader.uploadFile)}): ${error.message}`));
      Environ.setInput(env, new IncomingInput(stream, reader.contentLength));
    } else if (reader.body !== null) {
      const input = new PushedInput(reader.body.length, noop);
      input.push(this.#link === null ? reader.body : Buffer.from(reader.body));
      input.end();
      Environ.setInput(env, input);
    }
    core.serve(env, ZMQ_WRITER, request);
    if (request.gone) request.core?.halt(CLIENT_GONE); // nothing was published: `gone` was set first
  }

  /**
   * Where an x-mongrel2-upload-done file is from here: Mongrel2 names it inside its chroot, so
   * it is resolved under --mongrel2-chroot (as-is without one). Null, logged, when the path
   * leaves the chroot: tsgi deletes the file afterwards, so it must not name just any file.
   */
  #uploadPath(file: string): string | null {
    const chroot = this.context.options['mongrel2-chroot'];
    if (chroot === undefined) return file;
    const root = resolve(chroot);
    const path = resolve(root, `.${sep}${file}`);
    if (path.startsWith(root + sep)) return path;
    log(`zmq: TSGI_ERR_ZMQ_UPLOAD: dropping a request: upload ${JSON.stringify(file)} is outside --mongrel2-chroot ${root}`);
    return null;
  }

  /**
   * Mongrel2's client is gone: halt what runs for it (their `finally` blocks run). Mongrel2
   * round-robins notices over all its handlers, so most are for a sibling's request (or one not
   * read yet): those are remembered and passed on through the master.
   */
  #disconnect(key: string): void {
    if (this.#halt(key)) return;
    this.#remember(key);
    if (this.context.relayDisconnects === null) return;
    if (this.#relayOut.length === 0) setImmediate(this.#flushRelay);
    this.#relayOut.push(key);
  }

  readonly #flushRelay = (): void => {
    const keys = this.#relayOut;
    this.#relayOut = [];
    this.context.relayDisconnects!(keys.join('\n'));
  };

  /** Notices a sibling worker received: halt what is ours, remember the rest. */
  relayedDisconnects(keys: string): void {
    for (const key of keys.split('\n')) if (!this.#halt(key)) this.#remember(key);
  }

  #remember(key: string): void {
    const now = Date.now();
    const gone = this.#gone;
    for (const [oldest, until] of gone) {
      if (until > now && gone.size < GONE_MEMORY_MAX) break;
      gone.delete(oldest);
    }
    gone.delete(key); // re-inserted last: the map stays in expiry order
    gone.set(key, now + GONE_MEMORY_MS);
  }

  /** Halts the requests of connection `key`; false if it has none here. */
  #halt(key: string): boolean {
    const newest = this.byConn.get(key);
    if (newest === undefined) return false;
    for (let request: ZmqRequest | null = newest; request !== null; ) {
      const older: ZmqRequest | null = request.older;
      request.gone = true;
      request.core?.halt(CLIENT_GONE);
      request = older;
    }
    return true;
  }

  /**
   * @internal The response of `request` is complete (or abandoned). The oldest request of its
   * connection leaves the list and lets the newer ones publish what they held, in order.
   */
  ended(request: ZmqRequest): void {
    this.#inFlight--;
    if (request.older !== null) {
      request.parked = true;
      this.#parked++;
      return;
    }
    for (let next = this.#unlinkOldest(request); next !== null; next = this.#unlinkOldest(next)) {
      next.older = null;
      const held = next.held;
      next.held = null;
      if (held !== null && !next.gone) for (let i = 0; i < held.length; i++) this.publish(held[i]!, next.sender);
      if (!next.parked) return; // still running: it publishes directly from now on
      next.parked = false;
      this.#parked--;
    }
  }

  /** Removes the oldest request of a connection from its list; returns the next one. */
  #unlinkOldest(request: ZmqRequest): ZmqRequest | null {
    const newer = request.newer;
    request.newer = null;
    if (newer === null) this.byConn.delete(request.key);
    return newer;
  }

  /**
   * @internal Queues a response message; what is queued goes out as one multipart message
   * (#flush) when the receive chain runs dry or yields, at the end of this loop turn, or once
   * MAX_BATCH frames or MAX_BATCH_BYTES are queued. Mongrel2 reads every frame as a response
   * of its own (handler.c: one zmq_msg_recv per message, RCVMORE never looked at), and PUB
   * routes a multipart message by its first frame, so a batch holds one sender's messages.
   * One send() for many responses: one zeromq.js promise, one wake-up of the I/O thread.
   */
  publish(message: Buffer, sender: string): void {
    if (this.#link !== null) return this.#publishNative(message, sender, this.#link);
    if (this.pub.closed) return;
    if (this.#outbox.length > 0 && sender !== this.#outboxSender) this.#flush();
    this.#outboxSender = sender;
    this.#outbox.push(message);
    this.#outboxBytes += message.length;
    if (this.#outbox.length >= MAX_BATCH || this.#outboxBytes >= MAX_BATCH_BYTES) this.#flush();
    else if (!this.#flushDue) {
      this.#flushDue = true;
      setImmediate(this.#flushLater);
    }
  }

  #publishNative(message: Buffer, sender: string, link: NativeLink): void {
    if (link.pubClosed) return;
    if (link.queuedFrames > 0 && sender !== this.#outboxSender) link.flush();
    this.#outboxSender = sender;
    link.queue(message);
    if (link.queuedFrames >= MAX_BATCH || link.queuedBytes >= MAX_BATCH_BYTES) link.flush();
    else if (!this.#flushDue && !link.pumping) {
      this.#flushDue = true;
      setImmediate(this.#flushLater);
    }
  }

  readonly #flushLater = (): void => {
    this.#flushDue = false;
    this.#flush();
  };

  #flush(): void {
    if (this.#link !== null) return this.#link.flush();
    const outbox = this.#outbox;
    if (outbox.length === 0) return;
    this.#outbox = [];
    this.#outboxBytes = 0;
    if (this.pub.closed) return;
    this.#lastPublish = Date.now();
    try {
      this.pub.send(outbox.length === 1 ? outbox[0]! : outbox).catch(onPublishError);
    } catch (error) {
      onPublishError(error as Error);
    }
  }

  /** Handles backlogged messages while cores are free; true once the backlog is empty. */
  #serveBacklog(): boolean {
    while (this.serveQueued()) {
      // each call started one waiting request
    }
    return this.#backlogHead === this.#backlog.length;
  }

  /**
   * A core freed after all were busy: the oldest message that waited for one is handled (the
   * worker calls this while cores are free, then resumes the listener, which reads on).
   */
  serveQueued(): boolean {
    const backlog = this.#backlog;
    if (this.#backlogHead === backlog.length || this.context.scheduler.freeCount === 0) return false;
    const message = backlog[this.#backlogHead]!;
    backlog[this.#backlogHead++] = EMPTY;
    if (this.#backlogHead === backlog.length) backlog.length = this.#backlogHead = 0;
    this.#handle(message);
    return true;
  }

  /**
   * Graceful stop, first step (the listener's close): no new requests, Mongrel2 sends them to
   * the other workers. The requests already queued in the PULL socket were sent to this worker
   * and to no other: they are taken out before it closes, and served like the rest.
   */
  #stopReceiving(): void {
    if (this.#state !== 'running') return;
    this.#state = 'stopping';
    this.#closePull();
  }

  #closePull(): void {
    if (this.#link !== null) {
      if (this.#link.pullClosed) return;
      const taken = this.#link.closePull();
      log(`zmq: stopped pulling from ${this.spec.pull}${taken > 0 ? `; serving the ${taken} message(s) already queued for this worker` : ''}`);
      return;
    }
    const pull = this.pull;
    if (pull.closed) return;
    // A receive parked in zeromq.js's poller takes the next message itself; closing under it
    // would drop the ones queued, so #onMessage calls back here once it has its message.
    if (this.#receiving && pull.readable) return;
    // With receiveTimeout 0 each receive() takes a queued message synchronously (its promise
    // resolves later), so everything queued is out of the socket before close() discards it.
    pull.receiveTimeout = 0;
    let taken = 0;
    while (pull.readable) {
      this.#taking++;
      taken++;
      pull.receive().then(this.#onTaken, this.#onTakeError);
    }
    pull.close();
    log(`zmq: stopped pulling from ${this.spec.pull}${taken > 0 ? `; serving the ${taken} message(s) already queued for this worker` : ''}`);
  }

  /** No client connection is ours to close: Mongrel2 holds them, and ends each after its response. */
  drain(): void {}

  /** The cores' halt (the reload mercy ran out) ends every request: nothing else to break. */
  destroyAll(): void {}

  /** Graceful stop, last step (in-flight requests are done): flush and close the PUB socket. */
  async close(): Promise<void> {
    this.#stopReceiving();
    if (this.#state === 'closed') return;
    const connected = this.#state === 'stopping';
    this.#state = 'closed';
    if (!connected) return;
    const left = this.#backlog.length - this.#backlogHead;
    if (left > 0) log(`zmq: ${left} request(s) never got a core before --reload-mercy ran out: dropped, their clients wait for Mongrel2's timeout`);
    if (this.#link === null && !this.pull.closed) this.pull.close(); // --reload-mercy ran out while a receive was due
    this.#flush();
    // zeromq.js cannot tell when the queue is on the wire, and the worker exits with
    // process.exit (no ZMQ context termination): give the I/O thread time to send the last bytes.
    const wait = (this.#link?.lastFlush ?? this.#lastPublish) + FLUSH_MS - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (this.#link !== null) this.#link.close();
    else this.pub.close();
  }
}

let lastPublishError = 0;
function onPublishError(error: Error): void {
  const now = Date.now();
  if (now - lastPublishError < 1000) return;
  lastPublishError = now;
  log(`zmq: publishing a response failed: ${error.message}`);
}

function preview(message: Buffer): string {
  const text = JSON.stringify(message.toString('latin1', 0, 80));
  return message.length > 80 ? `${text}…` : text;
}

registerProtocol('zmq', (context) => new ZmqHandler(context));
