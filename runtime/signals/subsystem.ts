/**
 * uWSGI signals as a subsystem of the master: the hub (signals/hub.ts) routes what workers and
 * spoolers ask over IPC, the `--cron` commands run from it, and its cron table is checked on
 * every pass of the master's loop.
 */
import type { ChildActs, Handlers } from '../ipc.js';
import type { ChildPeer, MasterHost, Subsystem } from '../master/subsystem.js';
import { cronEntry } from './cron.js';
import { SignalHub, type SignalPeer, type SignalRequest } from './hub.js';

/** A subsystem whose processes can run signal handlers. */
interface SignalTargets extends Subsystem {
  signalPeers(): SignalPeer[];
}

export class Signals implements Subsystem {
  readonly name = 'signals';
  #host: MasterHost | null = null;
  // Made at once: an in-process worker's app registers handlers while the subsystems start.
  readonly #hub = new SignalHub(this.#peersOf('workers'), this.#peersOf('spoolers'));

  readonly handlers: Handlers<ChildActs, ChildPeer> = {
    'register-signal': (message, from) => this.#handle(message, from),
    // Acknowledged: a remote signal (modifier1 110) answers its sender once the master has it.
    'raise-signal': (message, from) => {
      this.#handle(message, from);
      from.channel.reply(message.seq, true);
    },
    'add-timer': (message, from) => this.#handle(message, from),
    'add-cron': (message, from) => this.#handle(message, from),
    'add-file-monitor': (message, from) => this.#handle(message, from),
  };

  #peersOf(name: string): () => SignalPeer[] {
    return () => this.#host?.subsystem<SignalTargets>(name)?.signalPeers() ?? [];
  }

  start(host: MasterHost): void {
    this.#host = host;
    for (const line of host.options.cron) this.#hub.addCommandCron(...cronEntry(line));
  }

  #handle(message: SignalRequest & { seq: number }, from: ChildPeer): void {
    this.#hub.handle(from.pid, message);
  }

  cycle(now: number): void {
    this.#hub.checkCrons(new Date(now));
  }

  /** A process that exited holds no signal handlers any more. */
  childExited(pid: number): void {
    this.#hub.forget(pid);
  }

  close(): void {
    this.#hub.close();
  }
}
