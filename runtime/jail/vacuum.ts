/**
 * `--vacuum`: at exit, remove the unix socket files this instance created and its pidfile.
 * Sockets systemd handed over are its own to remove. After a --uid drop the master can only
 * remove what its new user may (a socket file in a root-only directory stays): one line says so.
 */
import { readFileSync, unlinkSync } from 'node:fs';
import { log } from '../logger.js';
import type { BoundSocket } from '../master/listeners.js';

function remove(path: string, what: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') log(`vacuum: cannot remove the ${what} ${path}: ${(error as Error).message}`);
  }
}

export function vacuum(sockets: readonly BoundSocket[], pidfile: string | undefined): void {
  for (const socket of sockets) if (socket.address.kind === 'unix' && !socket.inherited) remove(socket.address.path, 'unix socket');
  if (pidfile === undefined) return;
  let pid = '';
  try {
    pid = readFileSync(pidfile, 'utf8').trim();
  } catch {
    return; // already gone
  }
  if (pid === String(process.pid)) remove(pidfile, 'pidfile'); // a newer instance may have replaced it
}
