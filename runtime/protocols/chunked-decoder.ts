/**
 * An incremental decoder of an HTTP/1.1 chunked body (RFC 9112 §7.1) for protocols whose peer
 * relays one as it arrives: a uwsgi packet from the HTTP router (tsgi's or uWSGI's) carries
 * `HTTP_TRANSFER_ENCODING: chunked` and no CONTENT_LENGTH, and the chunks follow the vars.
 * Fed any split of the bytes, it hands out the data and says when the last chunk has been read.
 */

export const enum ChunkedResult {
  /** More bytes are needed. */
  More,
  /** The last chunk (and any trailers) arrived; bytes after it are not the body's. */
  Done,
  /** Not a chunked body. */
  Invalid,
}

const enum State { Size, SizeExtension, SizeLf, Data, DataCr, DataLf, Trailer, TrailerLf, Done }

/** A chunk size line longer than this is garbage (RFC sizes fit in 16 hex digits). */
const MAX_SIZE_DIGITS = 16;

export class ChunkedDecoder {
  #state = State.Size;
  #left = 0;
  #digits = 0;
  /** Bytes seen on the current trailer line (0: the line is empty, so the body ends at its LF). */
  #trailerLine = 0;

  /** Feeds bytes; `data` gets each piece of decoded body (views of `bytes`). */
  feed(bytes: Buffer, data: (part: Buffer) => void): ChunkedResult {
    let at = 0;
    while (at < bytes.length) {
      const byte = bytes[at]!;
      switch (this.#state) {
        case State.Size: {
          const digit = hexValue(byte);
          if (digit >= 0) {
            if (++this.#digits > MAX_SIZE_DIGITS) return ChunkedResult.Invalid;
            this.#left = this.#left * 16 + digit;
          } else if (this.#digits === 0) return ChunkedResult.Invalid;
          else if (byte === 0x0d) this.#state = State.SizeLf;
          else if (byte === 0x3b /* ; */ || byte === 0x20 || byte === 0x09) this.#state = State.SizeExtension;
          else return ChunkedResult.Invalid;
          at++;
          break;
        }
        case State.SizeExtension:
          if (byte === 0x0d) this.#state = State.SizeLf;
          at++;
          break;
        case State.SizeLf:
          if (byte !== 0x0a) return ChunkedResult.Invalid;
          this.#digits = 0;
          this.#state = this.#left === 0 ? State.Trailer : State.Data;
          at++;
          break;
        case State.Data: {
          const take = Math.min(this.#left, bytes.length - at);
          data(bytes.subarray(at, at + take));
          this.#left -= take;
          at += take;
          if (this.#left === 0) this.#state = State.DataCr;
          break;
        }
        case State.DataCr:
          if (byte !== 0x0d) return ChunkedResult.Invalid;
          this.#state = State.DataLf;
          at++;
          break;
        case State.DataLf:
          if (byte !== 0x0a) return ChunkedResult.Invalid;
          this.#state = State.Size;
          at++;
          break;
        case State.Trailer:
          if (byte === 0x0d) this.#state = State.TrailerLf;
          else this.#trailerLine++;
          at++;
          break;
        case State.TrailerLf:
          if (byte !== 0x0a) return ChunkedResult.Invalid;
          at++;
          if (this.#trailerLine === 0) {
            this.#state = State.Done;
            return ChunkedResult.Done;
          }
          this.#trailerLine = 0;
          this.#state = State.Trailer;
          break;
        case State.Done:
          return ChunkedResult.Done;
      }
    }
    return this.#state === State.Done ? ChunkedResult.Done : ChunkedResult.More;
  }
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}
