/**
 * A client loop that hammers an HTTP port while a test reloads the server: `clients` loops of
 * one request after another (no keep-alive), counting answers and failures (a non-200 or a
 * socket error), until stopped.
 */
import { httpGet } from './tsgi.js';

export interface Load {
  /** Stops the loops and resolves once every in-flight request has ended. */
  stop(): Promise<{ done: number; failed: number; errors: string[] }>;
}

export function hammer(port: number, path = '/sleep?s=0.05', clients = 16): Load {
  let running = true;
  let done = 0;
  const errors: string[] = [];
  const loop = async () => {
    while (running) {
      const answer = await httpGet({ port, host: '127.0.0.1' }, path).catch((error: Error) => error);
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
      return { done, failed: errors.length, errors: errors.slice(0, 5) };
    },
  };
}
