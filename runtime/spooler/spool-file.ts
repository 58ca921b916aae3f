/**
 * The spool file, byte-compatible with uWSGI (uWSGI's `core/spooler.c`): `[17, u16le dict length, 0]`,
 * the dict (u16le key length, key, u16le value length, value), then the optional raw body to
 * the end of the file. Real uWSGI reads what tsgi writes and the other way round.
 */
import { hostname } from 'node:os';
import { tsgiError } from '../errors.js';
import { packetHeader } from '../protocols/uwsgi/packet.js';

export const SPOOL_MODIFIER1 = 17;
/** Only files named so are tasks: spoolers skip anything else (temporary files included). */
export const SPOOL_FILE_PREFIX = 'uwsgi_spoolfile_on_';
const MAX_DICT_BYTES = 0xffff;

/** The pairs of a task, and its body when it has one. */
export interface SpoolPayload {
  vars: Record<string, string>;
  body: Buffer | null;
}

export function encodeSpoolFile(vars: Readonly<Record<string, string>>, body: Buffer | null): Buffer {
  const parts: Buffer[] = [];
  let length = 0;
  for (const [key, value] of Object.entries(vars)) {
    for (const item of [key, value]) {
      const bytes = Buffer.from(item);
      if (bytes.length > MAX_DICT_BYTES) throw tooBig();
      parts.push(Buffer.from([bytes.length & 0xff, bytes.length >> 8]), bytes);
      length += 2 + bytes.length;
    }
  }
  if (length > MAX_DICT_BYTES) throw tooBig();
  return Buffer.concat([packetHeader(SPOOL_MODIFIER1, length, 0), ...parts, ...(body ? [body] : [])]);
}

function tooBig(): Error {
  return tsgiError('TSGI_ERR_SPOOL_ARGS', `the task's pairs take more than ${MAX_DICT_BYTES} bytes: put large data in the 'body' key`);
}

/** Decodes a spool file read whole; throws TSGI_ERR_SPOOL_FORMAT naming `name` if it is not one. */
export function decodeSpoolFile(bytes: Buffer, name: string): SpoolPayload {
  const bad = (why: string) => tsgiError('TSGI_ERR_SPOOL_FORMAT', `${name} is not a spool file: ${why}`);
  if (bytes.length < 4) throw bad(`only ${bytes.length} bytes`);
  if (bytes[0] !== SPOOL_MODIFIER1) throw bad(`modifier1 is ${bytes[0]}, not ${SPOOL_MODIFIER1}`);
  const end = 4 + bytes.readUInt16LE(1);
  if (end > bytes.length) throw bad(`the header announces ${end - 4} bytes of pairs, the file holds ${bytes.length - 4}`);
  let vars: Record<string, string>;
  try {
    vars = decodePairs(bytes, 4, end);
  } catch (error) {
    throw bad((error as Error).message);
  }
  return { vars, body: end < bytes.length ? bytes.subarray(end) : null };
}

/**
 * Decodes the dict in `bytes[start, end)` (values as UTF-8). Unlike a request's vars, a task may
 * carry empty values (spool({flag: ''})); a later duplicate key wins, as in the handler of uWSGI.
 */
export function decodePairs(bytes: Buffer, start: number, end: number): Record<string, string> {
  const vars: Record<string, string> = {};
  for (let pos = start; pos < end; ) {
    const keyEnd = itemEnd(bytes, pos, end);
    if (keyEnd < 0) throw new Error(`a key length at byte ${pos} runs past the pairs`);
    const valueEnd = itemEnd(bytes, keyEnd, end);
    if (valueEnd < 0) throw new Error(`the value length at byte ${keyEnd} runs past the pairs`);
    vars[bytes.toString('utf8', pos + 2, keyEnd)] = bytes.toString('utf8', keyEnd + 2, valueEnd);
    pos = valueEnd;
  }
  return vars;
}

/** Where the u16le-length-prefixed item at `pos` ends, or -1 if it runs past `end`. */
function itemEnd(bytes: Buffer, pos: number, end: number): number {
  if (pos + 2 > end) return -1;
  const stop = pos + 2 + bytes.readUInt16LE(pos);
  return stop > end ? -1 : stop;
}

const host = hostname();
let counter = 0;

/** uWSGI 2.0's name: `uwsgi_spoolfile_on_<host>_<pid>_<counter>_<rand>_<sec>_<usec>`. */
export function spoolFileName(now = Date.now()): string {
  const sec = Math.floor(now / 1000);
  const usec = (now % 1000) * 1000 + Math.floor(Math.random() * 1000);
  return `${SPOOL_FILE_PREFIX}${host}_${process.pid}_${++counter}_${Math.floor(Math.random() * 0x7fffffff)}_${sec}_${usec}`;
}
