/**
 * A UDP log target (`--logto HOST:PORT`, `--logger udp:HOST:PORT`): each line is one
 * datagram, as uWSGI sends them. The socket is connected, so a peer that is not listening is
 * noticed (the kernel reports ECONNREFUSED on the next send) and counted as dropped lines,
 * instead of vanishing unseen; sends are asynchronous and never wait.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { forEachLine, lineCount, Target } from './target.js';

/** Lines queued while the socket connects (a name lookup): beyond this they are dropped. */
const MAX_QUEUED = 10_000;
/**
 * A connected UDP socket reports a refusal on the send after the one that caused it, so sends
 * keep succeeding between refusals while the peer is down: only a second without any refusal
 * counts as the peer being back. (UDP stays best effort: lines sent into that second may be lost uncounted.)
 */
const RECOVERY_MS = 1000;

export class UdpTarget extends Target {
  readonly #socket: Socket;
  #connected = false;
  #queued: string[] = [];
  #lastFailure = 0;
  readonly #sent = (error: Error | null) => {
    if (error) {
      this.#lastFailure = Date.now();
      this.failed(error, 1);
    } else if (this.failing && Date.now() - this.#lastFailure > RECOVERY_MS) {
      this.write(''); // the peer is back: say how many were lost
    }
  };

  constructor(host: string, port: number) {
    super(`udp ${host}:${port}`);
    this.#socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    this.#socket.on('error', (error) => this.failed(error, 0));
    this.#socket.unref();
    this.#socket.connect(port, host, () => {
      this.#connected = true;
      const queued = this.#queued;
      this.#queued = [];
      for (const line of queued) this.#send(line);
    });
  }

  protected deliver(data: string | Buffer): void {
    forEachLine(data, (line) => this.#send(line));
  }

  #send(line: string): void {
    if (this.#connected) this.#socket.send(line, this.#sent);
    else if (this.#queued.length < MAX_QUEUED) this.#queued.push(line);
    else this.failed(new Error('still connecting'), lineCount(`${line}\n`));
  }

  override close(): void {
    this.#socket.close();
  }
}
