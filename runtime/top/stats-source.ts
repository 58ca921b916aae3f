/**
 * Reading an instance's stats server for `tsgi top`: one connection per refresh, the JSON read
 * to its end, an HTTP head (--stats-http) dropped. ADDR is what --stats was given (host:port,
 * a unix path, @name) or an http:// URL. A stats server under --stats-http waits for a request:
 * one that has said nothing after a moment is sent one, so top needs no flag to tell them apart.
 */
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { parseAddress } from '../address.js';
import { tsgiError, type TsgiError } from '../errors.js';

/** The parts of uWSGI's stats document top shows (tsgi adds busy_cores and cores_per_worker). */
export interface StatsWorker {
  id: number;
  pid: number;
  requests: number;
  exceptions: number;
  status: string;
  rss: number;
  tx: number;
  avg_rt: number;
  last_spawn: number;
  respawn_count: number;
  harakiri_count: number;
  busy_cores?: number;
}

export interface StatsDocument {
  version: string;
  pid: number;
  cores_per_worker?: number;
  workers: StatsWorker[];
}

const TIMEOUT_MS = 5000;
/** Silence after which top asks as an HTTP client would. */
const ASK_AFTER_MS = 200;

function parse(address: string, text: string): StatsDocument {
  const body = text.startsWith('HTTP/') ? text.slice(text.indexOf('\r\n\r\n') + 4) : text;
  let document: StatsDocument;
  try {
    document = JSON.parse(body) as StatsDocument;
  } catch {
    throw tsgiError('TSGI_ERR_TOP_STATS', `${address} did not answer with stats JSON (got ${JSON.stringify(body.slice(0, 60))})`);
  }
  if (typeof document !== 'object' || document === null || !Array.isArray(document.workers)) {
    throw tsgiError('TSGI_ERR_TOP_STATS', `${address} answered JSON without a "workers" list: is it a uWSGI/tsgi stats server?`);
  }
  return document;
}

function failure(address: string, error: Error): TsgiError {
  return tsgiError('TSGI_ERR_TOP_STATS', `cannot read stats from ${address}: ${(error as NodeJS.ErrnoException).code ?? error.message}`, { cause: error });
}

function openSocket(address: string): Socket {
  const parsed = parseAddress(address);
  if (parsed.kind === 'tcp') return connect(parsed.port, parsed.host || '127.0.0.1');
  return connect(parsed.kind === 'unix' ? parsed.path : `\0${parsed.name}`);
}

function readRaw(address: string): Promise<StatsDocument> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = openSocket(address).setEncoding('utf8');
    const ask = setTimeout(() => text === '' && socket.write('GET / HTTP/1.0\r\n\r\n'), ASK_AFTER_MS);
    socket.setTimeout(TIMEOUT_MS, () => socket.destroy(new Error('no answer within 5 s')));
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', (error) => {
      clearTimeout(ask);
      reject(failure(address, error));
    });
    socket.on('end', () => {
      clearTimeout(ask);
      try {
        resolve(parse(address, text));
      } catch (error) {
        reject(error);
      }
    });
  });
}

function readHttp(url: string): Promise<StatsDocument> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: TIMEOUT_MS }, (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => {
        try {
          resolve(parse(url, text));
        } catch (error) {
          reject(error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', (error) => reject(failure(url, error)));
    req.end();
  });
}

/** Checks ADDR's form (throws TSGI_ERR_TOP_USAGE); returns the reader for it. */
export function statsSource(address: string): () => Promise<StatsDocument> {
  if (/^https?:\/\//.test(address)) {
    try {
      new URL(address);
    } catch {
      throw tsgiError('TSGI_ERR_TOP_USAGE', `tsgi top: ${address} is not a URL`);
    }
    return () => readHttp(address);
  }
  try {
    parseAddress(address);
  } catch (error) {
    throw tsgiError('TSGI_ERR_TOP_USAGE', `tsgi top: ${address}: ${(error as Error).message}`);
  }
  return () => readRaw(address);
}
