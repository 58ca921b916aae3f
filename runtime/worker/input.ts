/**
 * `env['tsgi.input']`: the request body, readable the way the app prefers — awaited or yielded
 * whole (it is a thenable), iterated chunk by chunk, or as a Node Readable stream.
 */
import { Readable } from 'node:stream';

export interface RequestInput extends AsyncIterable<Buffer>, PromiseLike<Buffer> {
  /** CONTENT_LENGTH when the protocol announced one, else -1 (chunked HTTP). */
  readonly length: number;
  /** The whole body. */
  read(): Promise<Buffer>;
  /** The body as a Readable stream. */
  stream(): Readable;
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

abstract class InputBase implements RequestInput {
  abstract readonly length: number;
  abstract [Symbol.asyncIterator](): AsyncIterator<Buffer>;
  read(): Promise<Buffer> {
    return collect(this);
  }
  stream(): Readable {
    return Readable.from(this, { objectMode: false });
  }
  then<A = Buffer, B = never>(onFulfilled?: ((body: Buffer) => A | PromiseLike<A>) | null, onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.read().then(onFulfilled, onRejected);
  }
}

/** A request without a body (the common GET): one shared, allocation-free instance. */
class EmptyInput extends InputBase {
  readonly length = 0;
  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {}
  override read(): Promise<Buffer> {
    return Promise.resolve(Buffer.alloc(0));
  }
}
export const EMPTY_INPUT: RequestInput = new EmptyInput();

/** How much unread body a connection may buffer before it stops reading from the client. */
const HIGH_WATER = 256 * 1024;

/**
 * A body pushed by a connection that reads it off a socket (uwsgi, later FastCGI). Reading
 * pauses the client when the app falls behind and resumes it as the app consumes.
 */
export class PushedInput extends InputBase {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;
  /**
   * When the source last gave bytes, or was last asked for more: the protocols' once-a-second
   * sweepers end a body that stalls for --socket-timeout (a stamp per chunk, no timer per chunk).
   */
  #activeAt = Date.now();

  /** `resumeSource` is called when the buffered body fell below the high-water mark again. */
  constructor(readonly length: number, private readonly resumeSource: () => void) {
    super();
  }

  /** Adds a chunk; false means the source should pause until `resumeSource` is called. */
  push(chunk: Buffer): boolean {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    this.#activeAt = Date.now();
    this.#notify();
    return this.#buffered < HIGH_WATER;
  }

  /** The source was just asked for the body (HTTP 100 Continue): the stall clock starts now. */
  restartClock(): void {
    this.#activeAt = Date.now();
  }

  /**
   * True when the body is still coming and no byte arrived for `timeoutMs`. A source paused
   * because the app reads slower than the client sends is the app's doing, not a stall.
   */
  stalled(now: number, timeoutMs: number): boolean {
    return !this.#ended && this.#error === null && this.#buffered < HIGH_WATER && now - this.#activeAt > timeoutMs;
  }

  end(): void {
    this.#ended = true;
    this.#notify();
  }

  /** The connection broke: readers get the error instead of a short body. */
  destroy(error: Error): void {
    this.#error = error;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (;;) {
      const chunk = this.#chunks.shift();
      if (chunk !== undefined) {
        const wasFull = this.#buffered >= HIGH_WATER;
        this.#buffered -= chunk.length;
        if (wasFull && this.#buffered < HIGH_WATER) {
          this.#activeAt = Date.now(); // the stall clock restarts when the client may send again
          this.resumeSource();
        }
        yield chunk;
        continue;
      }
      if (this.#error) throw this.#error;
      if (this.#ended) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }
}

/** A body read from a Readable stream (a Mongrel2 upload file). */
export class IncomingInput extends InputBase {
  constructor(private readonly request: Readable, readonly length: number) {
    super();
  }
  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return this.request[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }
  override stream(): Readable {
    return this.request;
  }
}
