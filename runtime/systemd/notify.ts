/**
 * sd_notify(3) without libsystemd: one datagram per state change to the unix socket named by
 * NOTIFY_SOCKET (a path, or `@name` for an abstract one). The socket is connected once, at
 * start, and NOTIFY_SOCKET removed from the environment, so a worker or an app never speaks
 * for the service (systemd's NotifyAccess=main would drop it anyway).
 */
import { log } from '../logger.js';
import { native } from '../native.js';

export class Notifier {
  #fd = -1;

  /** False when there is no NOTIFY_SOCKET (not run by systemd as Type=notify). */
  open(): boolean {
    const target = process.env.NOTIFY_SOCKET;
    delete process.env.NOTIFY_SOCKET;
    if (!target) return false;
    // An abstract name is exactly "\0name" on the wire: systemd counts no trailing NUL.
    const path = target.startsWith('@') ? Buffer.concat([Buffer.from([0]), Buffer.from(target.slice(1))]) : Buffer.from(target);
    try {
      this.#fd = native.connectUnixDatagram(path);
    } catch (error) {
      log(`systemd: cannot reach NOTIFY_SOCKET ${target}: ${(error as Error).message}; no readiness notifications`);
      return false;
    }
    return true;
  }

  /** Sends `lines` (`READY=1`, `STATUS=…`) as one message; a failure is logged, never thrown. */
  send(...lines: string[]): void {
    if (this.#fd < 0) return;
    try {
      if (!native.sendDatagram(this.#fd, Buffer.from(`${lines.join('\n')}\n`))) log(`systemd: notification dropped (its queue is full): ${lines.join(' ')}`);
    } catch (error) {
      log(`systemd: notification failed: ${(error as Error).message}`);
    }
  }

  close(): void {
    if (this.#fd < 0) return;
    native.close(this.#fd);
    this.#fd = -1;
  }
}
