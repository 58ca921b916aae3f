/**
 * Ports for servers a test (or a benchmark) starts: the kernel picks them, so two test processes
 * never collide the way ports derived from the pid did.
 *
 * The port comes from the ephemeral range (32768–60999). That is fine for a server started right
 * after the call: nothing else binds a listening port there, and an outgoing connection taking
 * it in the few milliseconds between the close and the server's bind is very unlikely. Code that
 * needs a fixed port below 32768 (bench/run.ts, to stay clear of wrk's TIME_WAIT pairs) checks
 * its candidates with {@link portIsFree}.
 *
 * @example
 * const port = await pickPort();
 * const server = await startTsgi(['--http-socket', `127.0.0.1:${port}`, '--module', 'myapp']);
 */
import { createServer } from 'node:net';

/** Ports already handed out by this process: the kernel may return a just-closed port again. */
const handedOut = new Set<number>();

function bindZero(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Binds `host`:0, reads the port the kernel chose, closes, and returns it. Never returns the
 * same port twice in one process.
 */
export async function pickPort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await bindZero(host);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`the kernel handed out only ports this process already used (${[...handedOut].slice(-5).join(', ')}, …)`);
}

/** `count` distinct ports from {@link pickPort}. */
export async function pickPorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await pickPort(host));
  return ports;
}

/** True when nothing listens on 127.0.0.1:`port` right now (checked by binding it). */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
