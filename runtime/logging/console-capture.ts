/**
 * A single process (no master, so no pipes to collect) logging to somewhere other than stderr:
 * the app's `console.*` lines go to the same targets, tagged as a worker's output is under the
 * log master (`[worker 1 pid 4242] …`), instead of a terminal nobody reads. uWSGI dup2()s the
 * log file onto fds 1 and 2; tsgi keeps its own stderr for the failures of the targets
 * themselves, so it replaces the global console rather than the fds. Writes to
 * `process.stdout` that bypass the console still go to the real stdout.
 */
import { Console } from 'node:console';
import { Writable } from 'node:stream';
import type { LogRouter } from './router.js';

/** A stream that turns writes into whole output lines of the router. */
function lineStream(router: LogRouter, tag: string): Writable {
  let partial = '';
  return new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, done) {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) router.line('output', tag + line);
      done();
    },
    final(done) {
      if (partial !== '') router.line('output', tag + partial);
      done();
    },
  });
}

export function captureConsole(router: LogRouter): void {
  const tag = `[worker 1 pid ${process.pid}] `;
  globalThis.console = new Console({ stdout: lineStream(router, tag), stderr: lineStream(router, tag) });
}
