/**
 * The process's log router (uWSGI's loggers): lines in, by kind, targets out. Lifecycle lines
 * get the `--log-date` stamp (uWSGI stamps its own messages, not relayed output or request
 * lines); lines for the general loggers pass `--log-encoder`; request lines go to the
 * `--req-logger` targets when there are any, through `--log-req-encoder` (sharing the general
 * targets, they pass `--log-encoder` unless `--log-req-encoder` is given). Everything is batched and written
 * once per event loop turn. Request bytes relayed from a worker's pipe skip all per-line work
 * when nothing would change them ({@link LogRouter.requestBytes}).
 */
import type { LineKind, LogSink } from '../logger.js';
import { EncoderChain } from './encoder.js';
import { ctime, SecondClock, strftime } from './strftime.js';
import type { Target } from './targets/target.js';

export interface RouterConfig {
  general: Target[];
  /** Empty: request lines go to the general targets. */
  requests: Target[];
  /** `--log-date`: a strftime format, `true` for ctime(3) followed by " - ", or off. */
  date: string | boolean;
  encoders: readonly string[];
  requestEncoders: readonly string[];
}

export class LogRouter implements LogSink {
  readonly general: Target[];
  readonly requests: Target[];
  readonly #date: SecondClock | null;
  readonly #encoder: EncoderChain;
  readonly #requestEncoder: EncoderChain;
  /** Request lines go to the general targets, in the general batch (one write for both). */
  readonly #requestsShareGeneral: boolean;
  #generalBatch = '';
  #requestBatch = '';
  readonly #requestChunks: Buffer[] = [];
  #scheduled = false;
  readonly #flush = () => this.flush();

  constructor(config: RouterConfig) {
    this.general = config.general;
    this.requests = config.requests.length > 0 ? config.requests : config.general;
    this.#requestsShareGeneral = config.requests.length === 0;
    this.#date = config.date === false ? null
      : config.date === true ? new SecondClock((date) => `${ctime(date)} - `)
        : new SecondClock((date) => `${strftime(config.date as string, date)} `);
    this.#encoder = new EncoderChain(config.encoders);
    // Request lines sharing the general targets are encoded as the rest of those targets' lines, unless told apart.
    const ownEncoders = config.requestEncoders.length > 0 || !this.#requestsShareGeneral;
    this.#requestEncoder = ownEncoders ? new EncoderChain(config.requestEncoders) : this.#encoder;
  }

  /** Every target, once each. */
  get targets(): Target[] {
    return [...new Set([...this.general, ...this.requests])];
  }

  line(kind: LineKind, text: string): void {
    if (kind === 'request') {
      const encoded = this.#requestEncoder.empty ? text : this.#requestEncoder.encode(text, Date.now());
      if (this.#requestsShareGeneral) this.#generalBatch += `${encoded}\n`;
      else this.#requestBatch += `${encoded}\n`;
    } else {
      const stamped = kind === 'lifecycle' && this.#date ? this.#date.at(Date.now()) + text : text;
      this.#generalBatch += `${this.#encoder.empty ? stamped : this.#encoder.encode(stamped, Date.now())}\n`;
    }
    this.#schedule();
  }

  /**
   * Complete request lines as a worker wrote them (each ending in a newline): passed on as
   * bytes when no encoder applies, else line by line.
   */
  requestBytes(chunk: Buffer): void {
    if (!this.#requestEncoder.empty) {
      const text = chunk.toString('utf8');
      for (let start = 0, end = text.indexOf('\n'); end >= 0; start = end + 1, end = text.indexOf('\n', start)) this.line('request', text.slice(start, end));
      return;
    }
    if (this.#requestsShareGeneral && this.#generalBatch !== '') {
      // Keep the general lines of this turn ahead of the bytes in the same targets.
      this.#requestChunks.push(Buffer.from(this.#generalBatch));
      this.#generalBatch = '';
    }
    this.#requestChunks.push(chunk);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#flush);
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#requestChunks.length > 0) {
      const bytes = this.#requestChunks.length === 1 ? this.#requestChunks[0]! : Buffer.concat(this.#requestChunks);
      this.#requestChunks.length = 0;
      for (const target of this.requests) target.write(bytes);
    }
    if (this.#generalBatch !== '') {
      const text = this.#generalBatch;
      this.#generalBatch = '';
      for (const target of this.general) target.write(text);
    }
    if (this.#requestBatch !== '') {
      const text = this.#requestBatch;
      this.#requestBatch = '';
      for (const target of this.requests) target.write(text);
    }
  }

  close(): void {
    this.flush();
    for (const target of this.targets) target.close();
  }
}
