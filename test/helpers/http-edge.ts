/**
 * The tsgi every `http-*.test.ts` file talks to: the http-edge app on a TCP and a unix HTTP
 * socket, 8 cores, a 1 s socket timeout; started before the file's tests, stopped (exit 0
 * checked) after them, its raw connections destroyed.
 */
import { join } from 'node:path';
import type { Test } from 'uvu';
import * as assert from 'uvu/assert';
import { RawConn, useHttpPort } from './http-raw.js';
import { pickPort } from './ports.js';
import { FIXTURE_APPS, startTsgi, tempDir, type Server } from './tsgi.js';

export interface HttpEdge {
  readonly port: number;
  readonly unixPath: string;
  /** The running server (set once the suite's `before` ran). */
  readonly server: Server;
}

export async function useHttpEdgeServer(suite: Test): Promise<HttpEdge> {
  const port = await pickPort();
  const unixPath = join(tempDir(), 'http.sock');
  let server: Server | undefined;
  suite.before(async () => {
    server = await startTsgi([
      '--http-socket', `127.0.0.1:${port}`, '--http-socket', unixPath,
      '--wsgi-file', join(FIXTURE_APPS, 'http-edge.js'), '--async', '8', '--socket-timeout', '1',
    ], { cwd: FIXTURE_APPS });
  });
  suite.after(async () => {
    for (const conn of RawConn.all) conn.destroy();
    const code = await server!.stop();
    assert.is(code, 0, `graceful shutdown exits 0; log:\n${server!.log()}`);
  });
  useHttpPort(port);
  return { port, unixPath, get server() { return server!; } };
}
