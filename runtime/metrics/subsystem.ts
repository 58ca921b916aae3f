/**
 * The metrics endpoint as a subsystem: its own server under `--metrics`, and the scrape the
 * stats server answers at /metrics under --stats-http. It has no children and no cycle: a
 * scrape reads the shared memory when it comes.
 */
import type { Server } from 'node:http';
import { log } from '../logger.js';
import type { MasterHost, Subsystem } from '../master/subsystem.js';
import { scrape, type Scrape } from './document.js';
import { startMetricsServer } from './server.js';

export class Metrics implements Subsystem {
  readonly name = 'metrics';
  #host: MasterHost | null = null;
  #server: Server | null = null;

  async start(host: MasterHost): Promise<void> {
    this.#host = host;
    const address = host.options.metrics;
    if (address === undefined) return;
    this.#server = await startMetricsServer(address, (accept) => this.scrape(accept));
    log(`metrics (Prometheus / OpenMetrics) on ${address}/metrics`);
  }

  /** The exposition now, in the format `accept` asks for. */
  scrape(accept: string | undefined): Scrape {
    return scrape(this.#host!, accept);
  }

  close(): void {
    this.#server?.close();
    this.#server?.closeAllConnections();
  }
}
