/**
 * Without `--master` and with one process, tsgi serves from a single process: the master's
 * loop runs here too (signals, stats, housekeeping, cron), with this subsystem in place of the
 * worker pool: the worker runs in-process and is its own signal target.
 */
import { installCrashLogging } from '../boot/crash-logging.js';
import { log } from '../logger.js';
import type { SignalPeer } from '../signals/hub.js';
import { startServing, type ServingWorker } from '../threads/serve.js';
import { workerRows } from '../stats/server.js';
import type { MasterHost, StatsRows, Subsystem } from './subsystem.js';

export class InProcessWorker implements Subsystem {
  readonly name = 'workers';
  #worker!: ServingWorker;
  #host!: MasterHost;
  #running = true;

  async start(host: MasterHost): Promise<void> {
    this.#host = host;
    const { options, shared, sockets } = host;
    shared.scoreboard.spawned(1, process.pid);
    const channel = host.localChannel();
    this.#worker = await startServing({
      options,
      workerId: 1,
      masterPid: 0,
      sockets: sockets.map(({ fd, protocol, name }) => ({ fd, protocol, name })),
      toMaster: (request) => channel.post(request),
      askMaster: (request, timeoutMs) => channel.request(request, timeoutMs),
      shared,
    });
    installCrashLogging();
  }

  reload(): void {
    log('SIGHUP ignored: graceful reload needs --master');
  }

  stopGracefully(): void {
    void this.#worker.stop().then(() => {
      this.#running = false;
      this.#host.wake();
    });
  }

  stopBrutally(): void {
    this.#running = false;
  }

  busy(): boolean {
    return this.#running;
  }

  waitingFor(): string {
    return `${this.#worker.scheduler.busyCount} request(s) running`;
  }

  stats(): StatsRows {
    return workerRows(this.#host.shared, this.#host.options.async);
  }

  signalPeers(): SignalPeer[] {
    return [{ id: 1, pid: process.pid, ready: true, deliver: (num) => this.#worker.signals.deliver(num) }];
  }
}
