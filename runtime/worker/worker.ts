/**
 * A worker: loads the app, builds `--async` cores, accepts on the inherited sockets and serves
 * until it is told to stop. A graceful stop stops accepting, lets in-flight requests finish
 * within `--reload-mercy`, then halts what is left (running their `finally` blocks) and exits.
 */
import { setWorkerContext } from '../context.js';
import { Scheduler } from '../../green/scheduler.js';
import { Acceptor } from './acceptor.js';
import { installApps } from '../apps/install.js';
import { applyProcessLimits } from './limits.js';
import { requestBudget } from './recycle.js';
import { Core, type CoreReporting } from './core.js';
import { WorkerHarakiri } from './harakiri.js';
import { tsgiError } from '../errors.js';
import { flushLog, log } from '../logger.js';
import { compileRequestFormat } from '../logging/request-format.js';
import type { Options } from '../options.js';
import { createProtocolServer, type Listener, type ProtocolServer } from '../protocols/registry.js';
import type { InheritedSocket, MasterRequest } from '../ipc.js';
import { SignalRunner } from '../signals/runner.js';
import type { SharedState } from '../shared/state.js';
import type { WorkerSlot } from '../shared/scoreboard.js';

export type { InheritedSocket } from '../ipc.js';

export interface WorkerInit {
  options: Options;
  workerId: number;
  masterPid: number;
  sockets: InheritedSocket[];
  /** Sends a request to the master (or, without one, to the single process's own hub). */
  toMaster: (request: MasterRequest) => void;
  /** Sends a request and resolves with the master's answer (false if none came in time). */
  askMaster: (request: MasterRequest, timeoutMs: number) => Promise<boolean>;
  /** The instance's shared memory (scoreboard, cache, queue), already mapped. */
  shared: SharedState;
  /** Set when this worker is one worker_thread of a process (--threads: runtime/threads/). */
  thread?: WorkerThread;
}

/** A worker serving in a worker_thread: its id and its own slot of the thread board. */
export interface WorkerThread {
  id: number;
  slot: WorkerSlot;
}

const SHUTDOWN = tsgiError('TSGI_ERR_CANCELLED', 'worker shutting down');
/** How often a stopping worker checks whether its last connection is gone. */
const STOP_POLL_MS = 25;

export class Worker {
  readonly reporting: CoreReporting;
  readonly scheduler: Scheduler<Core>;
  readonly signals: SignalRunner;
  readonly #servers: ProtocolServer[] = [];
  readonly #listeners: Listener[] = [];
  #lastFullLog = 0;
  #stopping: Promise<void> | null = null;

  private constructor(readonly init: WorkerInit) {
    const { options, workerId } = init;
    this.reporting = {
      id: workerId, slot: init.thread?.slot ?? init.shared.scoreboard.slot(workerId), logRequests: !options['disable-logging'], requestFormat: compileRequestFormat(options), warnBareSuspension: options.ugreen,
      budget: requestBudget(options, workerId, init.toMaster),
    };
    this.scheduler = new Scheduler<Core>(options.async, (scheduler, index) => new Core(scheduler, index, this.reporting));
    this.scheduler.onAvailable = () => queueMicrotask(() => this.#coreFreed());
    this.signals = new SignalRunner(() => this.reporting.slot.countSignal());
  }

  /** Loads the app (throws TSGI_ERR_APP_* on failure) and starts accepting. */
  static async start(init: WorkerInit): Promise<Worker> {
    const { options } = init;
    if (init.thread === undefined) applyProcessLimits(options); // a thread's process set them once
    const worker = new Worker(init);
    // Published before the import: apps call the api at module top level (register_signal…).
    setWorkerContext({
      workerId: init.workerId,
      threadId: init.thread?.id ?? 0,
      masterPid: init.masterPid,
      numproc: options.processes,
      options: Object.freeze({ ...options }),
      scheduler: worker.scheduler,
      signals: worker.signals,
      toMaster: init.toMaster,
      askMaster: init.askMaster,
      shared: init.shared,
      spooler: null,
    });
    const apps = await installApps(options, worker.scheduler.threads, init.shared, init.workerId);
    await worker.#listen();
    WorkerHarakiri.start(options, worker.scheduler, worker.reporting);
    worker.reporting.slot.setAccepting(true);
    const zmq = options.zmq.length > 0 ? ` + ${options.zmq.length} zmq` : '';
    log(`ready (pid ${process.pid}): ${apps}, ${init.sockets.length} socket(s)${zmq}, ${options.async} core(s)`);
    // Written now, not at the end of the turn: the master acts on the 'ready' message (a reload
    // hands over, a chain spawns the next worker), and the log must show the ready line first.
    flushLog();
    return worker;
  }

  async #listen(): Promise<void> {
    const onFull = () => this.#logFull();
    const { toMaster, masterPid } = this.init;
    const relayDisconnects = masterPid === 0 ? null : (keys: string) => toMaster({ act: 'zmq-disconnect', keys });
    const context = { scheduler: this.scheduler, options: this.init.options, onFull, relayDisconnects };
    const canAccept = () => this.scheduler.freeCount > 0;
    for (const socket of this.init.sockets) {
      const server = await createProtocolServer(socket.protocol, context);
      this.#servers.push(server);
      this.#listeners.push(server.listen?.(socket.fd, socket.name, { canAccept, onFull })
        ?? new Acceptor(socket.fd, socket.name, (fd) => server.serve!(fd), canAccept, onFull));
    }
    // `--zmq PULL,PUB`: a socket of protocol zmq, one the worker connects out from instead of inheriting.
    for (const spec of this.init.options.zmq) {
      const server = await createProtocolServer('zmq', context);
      this.#servers.push(server);
      this.#listeners.push(await server.connect!(spec));
    }
  }

  /** Mongrel2 disconnect notices another worker received: the server running the request halts it. */
  relayedDisconnects(keys: string): void {
    for (const server of this.#servers) server.relayedDisconnects?.(keys);
  }

  /** A core freed after all were busy: requests that waited for one go first, then accepting. */
  #coreFreed(): void {
    for (const server of this.#servers) {
      while (this.scheduler.freeCount > 0 && server.serveQueued?.()) {
        // each call started one waiting request
      }
    }
    if (this.scheduler.freeCount > 0 && this.#stopping === null) for (const listener of this.#listeners) listener.resume();
  }

  /** uWSGI's "[DANGER] async queue is full", at most once a second. */
  #logFull(): void {
    const now = Date.now();
    if (now - this.#lastFullLog < 1000) return;
    this.#lastFullLog = now;
    log(`[DANGER] async queue is full !!! all ${this.scheduler.cores} cores busy, new requests wait for a free core`);
  }

  /** Graceful stop: resolves when every connection is done or the mercy time ran out. */
  stop(): Promise<void> {
    return (this.#stopping ??= this.#drain().then(() => Promise.all(this.#servers.map((server) => server.close?.()))).then(() => {}));
  }

  async #drain(): Promise<void> {
    for (const listener of this.#listeners) listener.close();
    this.reporting.slot.setAccepting(false);
    const deadline = Date.now() + this.init.options['reload-mercy'] * 1000;
    while (Date.now() < deadline) {
      // Keep-alive connections turn idle as their responses end: close them as they do.
      for (const server of this.#servers) server.drain();
      if (!this.#busy()) return;
      await new Promise((resolve) => setTimeout(resolve, STOP_POLL_MS));
    }
    if (!this.#busy()) return;
    log(`worker ${this.init.workerId}: --reload-mercy passed with ${this.scheduler.busyCount} request(s) running: halting them`);
    for (const core of this.scheduler.threads) core.halt(SHUTDOWN);
    for (const server of this.#servers) server.destroyAll();
  }

  #busy(): boolean {
    return this.scheduler.busyCount > 0 || this.signals.busy > 0 || this.#servers.some((server) => server.connections > 0);
  }
}
