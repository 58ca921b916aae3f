/**
 * SQLite3, as uWSGI's sqlite3 plugin: every row of the query is one pair, column 0 the option
 * name and column 1 its value (more columns are ignored). The default query is uWSGI's
 * `SELECT * FROM uwsgi`; `file.db:QUERY` runs another. A table
 * `CREATE TABLE uwsgi (key TEXT, value TEXT)` holds the seed's `|socket|@foobar|` rows.
 *
 * The database is read with sql.js (SQLite compiled to WebAssembly: no native build). Its
 * initialisation is asynchronous, while config loading is synchronous, so the query runs in a
 * worker thread and this thread blocks on an Atomics.wait until the rows arrive: one start-up
 * read, not a hot path.
 */
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { tsgiError } from '../errors.js';
import type { ConfigPair, LoaderInput } from './pairs.js';

export const DEFAULT_QUERY = 'SELECT * FROM uwsgi';
const TIMEOUT_MS = 20_000;

/** What the worker (sqlite-worker.ts) posts back. */
export type SqliteReply = { rows: unknown[][] } | { error: string };

export function loadSqlite({ bytes, source, section: query = DEFAULT_QUERY }: LoaderInput): ConfigPair[] {
  const reply = runQuery(bytes, query);
  if ('error' in reply) throw tsgiError('TSGI_ERR_CONFIG_SYNTAX', `${source}: sqlite3 error: ${reply.error} (query: ${query})`);
  const pairs: ConfigPair[] = [];
  reply.rows.forEach((row, index) => {
    if (row.length < 2 || row[0] === null) return;
    pairs.push({ name: text(row[0]), value: row[1] === null ? '' : text(row[1]), origin: { source: `${source} row ${index + 1}` } });
  });
  return pairs;
}

function text(cell: unknown): string {
  return cell instanceof Uint8Array ? Buffer.from(cell).toString() : String(cell);
}

function runQuery(bytes: Buffer, query: string): SqliteReply {
  const done = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(new URL('./sqlite-worker.js', import.meta.url), {
    workerData: { bytes: new Uint8Array(bytes), query, done, port: port2 },
    transferList: [port2],
  });
  try {
    if (Atomics.wait(done, 0, 0, TIMEOUT_MS) === 'timed-out') return { error: `no answer from the sqlite worker within ${TIMEOUT_MS / 1000} s` };
    return (receiveMessageOnPort(port1)?.message as SqliteReply | undefined) ?? { error: 'the sqlite worker sent no rows' };
  } finally {
    port1.close();
    void worker.terminate();
  }
}
