/**
 * Jailing as a subsystem: it starts right after the sockets are bound and before anything is
 * spawned, so every child is born jailed; at exit it vacuums. The umask and --env are set
 * earlier, before binding (master.ts calls beforeBinding), so the socket files get the umask.
 * Jail steps are not repeated on reload (a process cannot leave a chroot or regain root).
 */
import type { MasterHost, Subsystem } from '../master/subsystem.js';
import { enterJail, setSocketModes, warnIfRoot } from './steps.js';
import { vacuum } from './vacuum.js';

export class Jail implements Subsystem {
  readonly name = 'jail';
  #host: MasterHost | undefined;

  start(host: MasterHost): void {
    this.#host = host;
    const { options } = host;
    warnIfRoot(options);
    setSocketModes(options, host.sockets);
    enterJail(options);
  }

  close(): void {
    const options = this.#host?.options;
    if (options?.vacuum) vacuum(this.#host!.sockets, options.pidfile);
  }
}
