/**
 * Master ↔ child messages over the Node IPC channel, and the environment a child is spawned
 * with. Every message is `{act, seq, …}`: acts are a closed set with a declared shape, each
 * side dispatches through a table of handlers named after their act, a request's reply comes
 * back as `{act: 'reply', seq}` with the request's own seq, and whatever arrives is checked
 * against the shapes before a handler sees it (a child is app code: it may send anything).
 */
import { log } from './logger.js';
import type { Options } from './options.js';
import type { CronFields } from './signals/cron.js';

/** What each act carries besides `act` and `seq`. */
type Shape = Record<string, 'number' | 'string' | 'boolean' | 'numbers'>;

/**
 * Master → child: finish and exit; run a uWSGI signal's handler; (spooler) a task was queued;
 * Mongrel2 disconnect notices a sibling worker received (`sender SP connId` keys, one a line).
 */
export const MASTER_ACTS = {
  'stop': {},
  'signal': { num: 'number' },
  'wake': {},
  'zmq-disconnect': { keys: 'string' },
  'reply': { ok: 'boolean' },
} as const satisfies Record<string, Shape>;

/**
 * Child → master: the child serves; a task was written into spooler directory `dir`; the
 * signal subsystem's requests (register a handler, raise, add an event source); Mongrel2
 * disconnect notices for requests this worker does not run, for the master to pass on; a
 * worker asks to be replaced (`recycle`, --max-requests: runtime/master/recycling.ts).
 */
export const CHILD_ACTS = {
  'ready': {},
  'spooled': { dir: 'string' },
  'register-signal': { num: 'number', target: 'string' },
  'raise-signal': { num: 'number' },
  'add-timer': { num: 'number', seconds: 'number', iterations: 'number', kind: 'string' },
  'add-cron': { num: 'number', fields: 'numbers' },
  'add-file-monitor': { num: 'number', path: 'string' },
  'zmq-disconnect': { keys: 'string' },
  'reply': { ok: 'boolean' },
  'recycle': { reason: 'string' },
} as const satisfies Record<string, Shape>;

type FieldType<T> = T extends 'number' ? number : T extends 'string' ? string : T extends 'boolean' ? boolean : number[];
type Body<S> = { -readonly [K in keyof S]: FieldType<S[K]> };
/** Acts whose fields need a narrower type than their wire shape. */
interface Narrowed {
  'add-timer': { kind: 'timer' | 'rb' };
  'add-cron': { fields: CronFields };
}
type Fields<Acts, A extends keyof Acts> = A extends keyof Narrowed ? Omit<Body<Acts[A]>, keyof Narrowed[A]> & Narrowed[A] : Body<Acts[A]>;

/** One message of an act set, as it travels (with its seq). */
export type Message<Acts, A extends keyof Acts = keyof Acts> = A extends keyof Acts ? { act: A; seq: number } & Fields<Acts, A> : never;
/** The same, before the channel stamps its seq. */
export type Outgoing<Acts, A extends keyof Acts = keyof Acts> = A extends keyof Acts ? { act: A } & Fields<Acts, A> : never;

export type MasterActs = typeof MASTER_ACTS;
export type ChildActs = typeof CHILD_ACTS;
export type MasterMessage = Message<MasterActs>;
export type ChildMessage = Message<ChildActs>;
/** What the api may send to the master (every act but the lifecycle report and replies). */
export type MasterRequest = Outgoing<ChildActs, Exclude<keyof ChildActs, 'ready' | 'reply'>>;

/** Handlers by act; `from` tells the receiver which peer sent it. */
export type Handlers<Acts, From> = { [A in Exclude<keyof Acts, 'reply'>]?: (message: Message<Acts, A>, from: From) => void };

function fieldIs(value: unknown, type: Shape[string]): boolean {
  if (type === 'numbers') return Array.isArray(value) && value.every((n) => typeof n === 'number');
  return typeof value === type;
}

/** The message if it has a known act and the fields that act declares, else null. */
export function validMessage<Acts extends Record<string, Shape>>(acts: Acts, message: unknown): Message<Acts> | null {
  if (typeof message !== 'object' || message === null) return null;
  const { act, seq } = message as { act?: unknown; seq?: unknown };
  if (typeof act !== 'string' || !Object.hasOwn(acts, act) || !Number.isSafeInteger(seq)) return null;
  for (const [field, type] of Object.entries(acts[act]!)) if (!fieldIs((message as Record<string, unknown>)[field], type)) return null;
  return message as Message<Acts>;
}

/**
 * One end of a channel: stamps outgoing messages with a seq, validates and dispatches incoming
 * ones, and settles requests when their reply arrives (or the timeout passes).
 */
export class Channel<In extends Record<string, Shape>, Out extends Record<string, Shape>, From = void> {
  #seq = 0;
  readonly #pending = new Map<number, (ok: boolean) => void>();

  constructor(
    readonly label: string,
    private readonly acts: In,
    private readonly handlers: Handlers<In, From>,
    private readonly transmit: (message: Message<Out>) => void,
  ) {}

  /** Sends a message that wants no answer. */
  post(message: Outgoing<Out>): void {
    this.transmit({ ...message, seq: ++this.#seq } as Message<Out>);
  }

  /** Sends a message and resolves with the peer's `ok`, or false if no reply came in time. */
  request(message: Outgoing<Out>, timeoutMs: number): Promise<boolean> {
    const seq = ++this.#seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#settle(seq, false), timeoutMs);
      timer.unref();
      this.#pending.set(seq, (ok) => {
        clearTimeout(timer);
        resolve(ok);
      });
      this.transmit({ ...message, seq } as Message<Out>);
    });
  }

  /** Answers the request `seq`. */
  reply(seq: number, ok: boolean): void {
    this.transmit({ act: 'reply', seq, ok } as unknown as Message<Out>);
  }

  /** Dispatches one incoming message; an invalid one is logged and dropped. */
  receive(raw: unknown, from: From): void {
    const message = validMessage(this.acts, raw);
    if (message === null) return log(`${this.label}: dropped a malformed IPC message ${JSON.stringify(raw)?.slice(0, 200)}`);
    if (message.act === 'reply') return this.#settle(message.seq, (message as unknown as { ok: boolean }).ok);
    const handler = this.handlers[message.act as Exclude<keyof In, 'reply'>] as ((m: unknown, from: From) => void) | undefined;
    if (handler === undefined) return log(`${this.label}: no handler for IPC act ${String(message.act)}`);
    handler(message, from);
  }

  #settle(seq: number, ok: boolean): void {
    const settle = this.#pending.get(seq);
    this.#pending.delete(seq);
    settle?.(ok);
  }
}

/** The first inherited fd: stdio 0-2 are shared, 3 is the IPC channel, sockets follow. */
export const FIRST_SOCKET_FD = 4;

/** A listening socket a child inherits, as the master describes it. */
export interface InheritedSocket {
  fd: number;
  protocol: string;
  name: string;
}

const ENV_KEYS = ['TSGI_WORKER_ID', 'TSGI_MASTER_PID', 'TSGI_OPTIONS', 'TSGI_SOCKETS', 'TSGI_SPOOLER'] as const;

export interface WorkerEnvironment {
  /** The worker id, or the spooler process number. */
  workerId: number;
  /** Set for a spooler process: the directory it serves. */
  spooler?: string;
  masterPid: number;
  options: Options;
  sockets: InheritedSocket[];
}

export function workerEnvironment(spec: WorkerEnvironment): Record<string, string> {
  return {
    TSGI_WORKER_ID: String(spec.workerId),
    TSGI_MASTER_PID: String(spec.masterPid),
    TSGI_OPTIONS: JSON.stringify(spec.options),
    TSGI_SOCKETS: JSON.stringify(spec.sockets),
    ...(spec.spooler === undefined ? {} : { TSGI_SPOOLER: spec.spooler }),
  };
}

/** What the master spawned this process as, or null for the `tsgi` command itself. */
export function childRole(): 'worker' | 'spooler' | null {
  if (process.env.TSGI_WORKER_ID === undefined) return null;
  return process.env.TSGI_SPOOLER === undefined ? 'worker' : 'spooler';
}

/**
 * Reads the child's spec and removes it from the environment, so a `tsgi` the app itself
 * starts is not mistaken for a child.
 */
export function takeWorkerEnvironment(): WorkerEnvironment {
  const env = process.env;
  const spec: WorkerEnvironment = {
    workerId: Number(env.TSGI_WORKER_ID),
    masterPid: Number(env.TSGI_MASTER_PID),
    options: JSON.parse(env.TSGI_OPTIONS!) as Options,
    sockets: JSON.parse(env.TSGI_SOCKETS!) as InheritedSocket[],
    spooler: env.TSGI_SPOOLER,
  };
  for (const key of ENV_KEYS) delete env[key];
  return spec;
}

/**
 * The child's end of the channel to its master (a worker or spooler process): replies to the
 * master's requests are not needed today, so the child only posts, requests and handles.
 */
export function channelToMaster(label: string, handlers: Handlers<MasterActs, void>): Channel<MasterActs, ChildActs> {
  const channel = new Channel<MasterActs, ChildActs>(label, MASTER_ACTS, handlers, (message) => {
    if (process.connected) process.send!(message);
  });
  process.on('message', (message) => channel.receive(message, undefined));
  return channel;
}
