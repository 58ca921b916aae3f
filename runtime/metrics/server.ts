/**
 * `--metrics ADDR`: an HTTP server in the master answering `GET /metrics` (and `/`, for a quick
 * look with curl) with the exposition; anything else is a 404. Keep-alive is Node's default,
 * which is what Prometheus scrapers expect.
 */
import { unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { parseAddress } from '../address.js';
import { tsgiError } from '../errors.js';
import type { Scrape } from './document.js';

export type Scraper = (accept: string | undefined) => Scrape;

function listenTarget(text: string): { port: number; host: string } | { path: string } {
  const address = parseAddress(text);
  if (address.kind === 'tcp') return { port: address.port, host: address.host || '0.0.0.0' };
  if (address.kind === 'abstract') return { path: `\0${address.name}` };
  try {
    unlinkSync(address.path); // a stale file from a dead instance; a live one's too (as --stats does)
  } catch {
    // nothing there
  }
  return { path: address.path };
}

/** Starts the server and resolves once it listens; rejects with TSGI_ERR_METRICS_LISTEN. */
export function startMetricsServer(text: string, scraper: Scraper): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?', 1)[0];
    if ((request.method !== 'GET' && request.method !== 'HEAD') || (path !== '/metrics' && path !== '/')) {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: scrape /metrics\n');
      return;
    }
    const { contentType, body } = scraper(request.headers.accept);
    response.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
    response.end(request.method === 'HEAD' ? undefined : body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (error) => reject(tsgiError('TSGI_ERR_METRICS_LISTEN', `--metrics ${text}: ${error.message}`, { cause: error })));
    server.listen(listenTarget(text), () => resolve(server));
  });
}
