/**
 * Runs one sqlite3 config query with sql.js and posts the rows back (see sqlite.ts): loaded as
 * a worker thread while the config loader waits.
 */
import { createRequire } from 'node:module';
import { workerData, type MessagePort } from 'node:worker_threads';
import type { SqliteReply } from './sqlite.js';

interface SqlJs {
  Database: new (data: Uint8Array) => {
    exec(sql: string): Array<{ columns: string[]; values: unknown[][] }>;
    close(): void;
  };
}

const { bytes, query, done, port } = workerData as { bytes: Uint8Array; query: string; done: Int32Array; port: MessagePort };
let reply: SqliteReply;
try {
  // sql.js ships no types and is CommonJS.
  const initSqlJs = createRequire(import.meta.url)('sql.js') as () => Promise<SqlJs>;
  const db = new (await initSqlJs()).Database(bytes);
  try {
    reply = { rows: db.exec(query).flatMap((result) => result.values) };
  } finally {
    db.close();
  }
} catch (error) {
  reply = { error: error instanceof Error ? error.message : String(error) };
}
port.postMessage(reply);
Atomics.store(done, 0, 1);
Atomics.notify(done, 0);
