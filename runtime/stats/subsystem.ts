/** `--stats ADDR` as a subsystem: the server starts with the instance and closes with it. */
import type { Server } from 'node:net';
import type { MasterHost, Subsystem } from '../master/subsystem.js';
import type { Metrics } from '../metrics/subsystem.js';
import { startStatsServer, statsDocument } from './server.js';

export class Stats implements Subsystem {
  readonly name = 'stats';
  #server: Server | null = null;

  start(host: MasterHost): void {
    const { options, shared, sockets } = host;
    const rows = () => Object.assign({}, ...host.subsystems.map((subsystem) => subsystem.stats?.() ?? {}));
    // Looked up per request: the metrics subsystem starts after this one.
    const metrics = (path: string, accept: string | undefined) => (path === '/metrics' ? host.subsystem<Metrics>('metrics')?.scrape(accept) : undefined);
    if (options.stats) this.#server = startStatsServer(options, () => statsDocument(options, shared, sockets, rows()), metrics);
  }

  close(): void {
    this.#server?.close();
  }
}
