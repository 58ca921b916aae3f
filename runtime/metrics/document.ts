/**
 * One scrape: every family, read from the shared memory the moment it is asked for (the master
 * keeps no copy, so a scrape costs one pass over the scoreboard and nothing between scrapes).
 */
import type { MasterHost } from '../master/subsystem.js';
import { Exposition, OPENMETRICS_TYPE, PROMETHEUS_TYPE, wantsOpenMetrics } from './exposition.js';
import { writeInstanceFamilies } from './instance-families.js';
import { writeWorkerFamilies } from './worker-families.js';

export interface Scrape {
  contentType: string;
  body: string;
}

/** The exposition of `host`'s instance in the format `accept` asks for. */
export function scrape(host: Pick<MasterHost, 'options' | 'shared' | 'sockets'>, accept: string | undefined): Scrape {
  const openMetrics = wantsOpenMetrics(accept);
  const out = new Exposition(openMetrics);
  const { options, shared, sockets } = host;
  // Read at each scrape: a reload that grows --processes replaces the scoreboard object.
  writeWorkerFamilies(out, shared.scoreboard, options.async);
  writeInstanceFamilies(out, { shared, sockets, listen: options.listen, spoolerDirs: options.spooler });
  return { contentType: openMetrics ? OPENMETRICS_TYPE : PROMETHEUS_TYPE, body: out.text() };
}
