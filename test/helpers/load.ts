/**
 * A client loop that hammers an HTTP port while a test reloads the server: `clients` loops of
 * one request after another (a new connection each, or kept alive), counting answers and failures (a non-200 or a
 * socket error), until stopped.
 */
import { Agent, request } from 'node:http';
import { httpGet, type HttpResult } from './tsgi.js';

export interface Load {
  /** Stops the loops and resolves once every in-flight request has ended. */
  stop(): Promise<{ done: number; failed: number; errors: string[] }>;
}

/** One GET over a keep-alive agent: the connection is reused, so a server closing it at the wrong moment shows. */
function keepAliveGet(agent: Agent, port: number, path: string): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    request({ port, host: '127.0.0.1', path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    }).on('error', reject).end();
  });
}

export function hammer(port: number, path = '/sleep?s=0.05', clients = 16, keepAlive = false): Load {
  const agent = keepAlive ? new Agent({ keepAlive: true, maxSockets: clients }) : null;
  const get = () => (agent === null ? httpGet({ port, host: '127.0.0.1' }, path) : keepAliveGet(agent, port, path));
  let running = true;
  let done = 0;
  const errors: string[] = [];
  const loop = async () => {
    while (running) {
      const answer = await get().catch((error: Error) => error);
      if (answer instanceof Error) errors.push(answer.message);
      else if (answer.status !== 200) errors.push(`status ${answer.status}`);
      else done++;
    }
  };
  const loops = Array.from({ length: clients }, loop);
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      agent?.destroy();
      return { done, failed: errors.length, errors: errors.slice(0, 5) };
    },
  };
}
