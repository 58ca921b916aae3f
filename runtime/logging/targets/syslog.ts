/**
 * The syslog log target (`--logger syslog[:IDENT[,FACILITY]]`): each line is one datagram to
 * the local syslog socket, /dev/log, in the format syslog(3) sends (`<PRI>Mmm dd hh:mm:ss
 * IDENT[PID]: line`, severity info). Node has no unix datagram sockets, so the addon sends
 * (native/dgram.c). TSGI_SYSLOG_SOCKET points it elsewhere (a container's relay, tests).
 * A missing or full socket drops the line, counted; nothing waits.
 */
import { native } from '../../native.js';
import { SecondClock, strftime } from '../strftime.js';
import { forEachLine, Target } from './target.js';

const SEVERITY_INFO = 6;
const ERRNO_NAMES: Record<number, string> = { 2: 'ENOENT', 11: 'EAGAIN', 90: 'EMSGSIZE', 111: 'ECONNREFUSED' };

export class SyslogTarget extends Target {
  readonly #fd = native.unixDgramSocket();
  readonly #path: Buffer;
  readonly #head: string;
  readonly #ident: string;
  #error: Error | null = null;
  readonly #clock = new SecondClock((date) => strftime('%b %e %H:%M:%S', date));

  constructor(ident: string, facility: number) {
    const path = process.env.TSGI_SYSLOG_SOCKET || '/dev/log';
    super(`syslog ${ident} (${path})`);
    this.#path = Buffer.from(path);
    this.#head = `<${facility * 8 + SEVERITY_INFO}>`;
    this.#ident = `${ident}[${process.pid}]: `;
  }

  protected deliver(data: string | Buffer): void {
    let delivered = 0;
    forEachLine(data, (line) => {
      if (delivered < 0) return;
      const sent = native.unixDgramSend(this.#fd, this.#path, Buffer.from(`${this.#head}${this.#clock.at(Date.now())} ${this.#ident}${line}`));
      if (sent >= 0) delivered++;
      else {
        this.#error = Object.assign(new Error(`sendto: errno ${-sent}`), { code: ERRNO_NAMES[-sent] ?? `errno ${-sent}`, delivered });
        delivered = -1;
      }
    });
    if (delivered < 0) throw this.#error;
  }

  override close(): void {
    native.close(this.#fd);
  }
}
