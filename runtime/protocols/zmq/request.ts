/**
 * One request of a Mongrel2 handler (handler.ts) and the ResponseWriter its core writes through:
 * each chunk the app produces becomes a response message `UUID len:ID, <raw HTTP bytes>`, held
 * back while an older request of the same connection still runs (HTTP's order).
 */
import { unlink } from 'node:fs';
import { DRAIN, type Chunk } from '../../../green/thread.js';
import type { Core, ResponseWriter } from '../../worker/core.js';
import { log } from '../../logger.js';
import { encodeResponse, responseKeepsAlive } from './mongrel2-parser.js';
import { byteLength, errorResponse, responseHead } from '../response.js';

/** uWSGI's UWSGI_MONGREL2_MAX_MSGSIZE: bigger chunks go out in pieces so Mongrel2's ring buffer copes. */
const MAX_MESSAGE_BODY = 2 * 1024 * 1024;
const EMPTY = Buffer.alloc(0);

/** What a request needs of its handler. */
export interface RequestOwner {
  /** Queues one response message for Mongrel2's `sender`. */
  publish(message: Buffer, sender: string): void;
  /** The response of `request` is complete (or abandoned). */
  ended(request: ZmqRequest): void;
}

/**
 * The request a core serves for a handler; one per core, reused. Requests pipelined on one
 * Mongrel2 connection form a list, oldest to newest: HTTP wants their responses in request
 * order, so a request with an older one still running keeps its messages in `held`, and if it
 * finishes first it stays `parked` on the list (its core moves on) until the older ones end.
 */
export class ZmqRequest {
  core: Core | null = null;
  /** `sender SP connId`: the key of {@link ZmqHandler.byConn}. */
  key = '';
  /** Mongrel2's sender UUID: the topic its SUB subscribed to. */
  sender = '';
  prefix: Buffer = EMPTY;
  keepAlive = false;
  /** Mongrel2 said the client is gone: nothing more is published for it. */
  gone = false;
  /** The previous request on the same connection, still running or parked. */
  older: ZmqRequest | null = null;
  newer: ZmqRequest | null = null;
  /** Messages published while an older request runs; null until the first (the common case stays allocation-free). */
  held: Buffer[] | null = null;
  /** Finished while an older request ran: waits on the list with its messages in `held`. */
  parked = false;
  /** The x-mongrel2-upload-done file (under --mongrel2-chroot): deleted when the request ends. */
  upload: string | null = null;

  constructor(readonly handler: RequestOwner) {}

  /** Publishes `head` and `body` (split into ≤ 2 MiB messages); no body and no head: the close message. */
  publish(head: string, body: Chunk | undefined): void {
    const length = byteLength(body);
    if (length <= MAX_MESSAGE_BODY) return this.#out(encodeResponse(this.prefix, head, body));
    const bytes = typeof body === 'string' ? Buffer.from(body) : body!;
    this.#out(encodeResponse(this.prefix, head, bytes, 0, MAX_MESSAGE_BODY));
    for (let from = MAX_MESSAGE_BODY; from < length; from += MAX_MESSAGE_BODY) {
      this.#out(encodeResponse(this.prefix, '', bytes, from, from + MAX_MESSAGE_BODY));
    }
  }

  #out(message: Buffer): void {
    if (this.older === null) this.handler.publish(message, this.sender);
    else (this.held ??= []).push(message);
  }

  end(): void {
    if (this.core === null) return;
    this.core = null;
    if (this.upload !== null) {
      // Mongrel2 leaves the file to its handler: nobody else deletes it.
      const file = this.upload;
      this.upload = null;
      unlink(file, (error) => error && log(`zmq: TSGI_ERR_ZMQ_UPLOAD: cannot delete upload ${file}: ${error.message}`));
    }
    this.handler.ended(this);
  }
}

export const ZMQ_WRITER: ResponseWriter = {
  send(core, chunk) {
    const request = core.conn as ZmqRequest;
    if (request.gone) return true;
    if (core.headersSent) request.publish('', chunk);
    else {
      core.headersSent = true;
      request.publish(responseHead(core.env!.SERVER_PROTOCOL as string, core), chunk);
    }
    return true; // PUB never blocks (no high-water mark)
  },
  finish(core, last) {
    const request = core.conn as ZmqRequest;
    if (!request.gone) {
      if (!core.headersSent) {
        core.headersSent = true;
        request.publish(responseHead(core.env!.SERVER_PROTOCOL as string, core), last);
      } else if (last !== undefined && last.length > 0) request.publish('', last);
      // The empty message makes Mongrel2 close the client connection, unless HTTP keep-alive
      // can work: the client asked for it and the response says where it ends.
      if (!request.keepAlive || !responseKeepsAlive(core.headers)) request.publish('', undefined);
    }
    request.end();
  },
  abort(core, status) {
    const request = core.conn as ZmqRequest;
    if (!request.gone) {
      if (!core.headersSent) {
        core.headersSent = true;
        request.publish(errorResponse((core.env!.SERVER_PROTOCOL as string | undefined) ?? 'HTTP/1.0', status), undefined);
      }
      request.publish('', undefined);
    }
    request.end();
  },
  awaitDrain(core) {
    // send() never asks for a drain; resume anyway should a thread park on DRAIN.
    queueMicrotask(() => core.resume(DRAIN, undefined));
  },
};
