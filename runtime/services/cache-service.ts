/**
 * The cache over the uwsgi protocol (modifier1 111, uWSGI's `plugins/cache` and `core/cache.c`): the 0.9.8-style commands
 * (mod2 0 get, 1 set, 2 del) and uWSGI 2.0's "magic" dict protocol (mod2 17) that uWSGI
 * instances use with each other, as a server on every uwsgi socket and as a client for
 * `cache_*(…, 'name@host:port')`. Failures close the connection without a reply, as uWSGI.
 */
import { workerContext } from '../context.js';
import { tsgiError } from '../errors.js';
import { logError } from '../logger.js';
import { parseArray } from '../protocols/uwsgi/parser.js';
import { encodeArray, encodeDict, exchange, packetHeader } from '../protocols/uwsgi/packet.js';
import { registerService } from './registry.js';
import type { SharedCache } from '../shared/cache.js';

const MAGIC = 17;

function dictOf(block: Buffer): Record<string, string> {
  const items = parseArray(block, 0, block.length).map((item) => item.toString('latin1'));
  const dict: Record<string, string> = {};
  for (let i = 0; i + 1 < items.length; i += 2) dict[items[i]!] = items[i + 1]!;
  return dict;
}

function magicReply(fields: Record<string, string>, value?: Buffer): Buffer {
  const dict = encodeDict(fields);
  return Buffer.concat([packetHeader(111, dict.length, MAGIC), dict, ...(value ? [value] : [])]);
}

/** Runs one magic command; the reply bytes, or null for "close without a reply". */
async function magic(cache: SharedCache, dict: Record<string, string>, readBody: (length: number) => Promise<Buffer>): Promise<Buffer | null> {
  if (dict.cache !== undefined && dict.cache !== '' && dict.cache !== 'default') return null;
  const key = Buffer.from(dict.key ?? '', 'latin1'); // keys are bytes on the wire
  const ok = { status: 'ok' };
  switch (dict.cmd) {
    case 'get': {
      const value = cache.get(key);
      return value === null ? null : magicReply({ ...ok, size: String(value.length) }, value);
    }
    case 'exists':
      return cache.exists(key) ? magicReply(ok) : null;
    case 'set':
    case 'update': {
      const size = Number(dict.size);
      if (!(size > 0) || size > cache.blocksize) return null;
      const value = await readBody(size);
      const expires = Number(dict.expires ?? 0) || 0;
      const stored = dict.cmd === 'set' ? cache.set(key, value, expires) : cache.update(key, value, expires);
      return stored ? magicReply(ok) : null;
    }
    case 'del':
      return cache.del(key) ? magicReply(ok) : null;
    case 'clear':
      return cache.clear() ? magicReply(ok) : null;
    default:
      return null;
  }
}

registerService(111, (packet, reply) => {
  const cache = workerContext('cache').shared.cache;
  const payload = packet.payload!;
  if (cache === null) return reply.drop();
  switch (packet.modifier2) {
    case 0: {
      const value = cache.get(payload);
      if (value === null || value.length > 65535) return reply.drop();
      return reply.send(Buffer.concat([packetHeader(111, value.length, 0), value]));
    }
    case 1: {
      const [key, value] = parseArray(payload, 0, payload.length);
      if (key !== undefined && value !== undefined) cache.set(key, value);
      return reply.drop();
    }
    case 2:
      cache.del(payload);
      return reply.drop();
    case MAGIC: {
      const dict = dictOf(payload);
      return void magic(cache, dict, packet.readBody).then(
        (bytes) => (bytes === null ? reply.drop() : reply.send(bytes)),
        (error) => {
          // A miss closes silently (uWSGI's answer); a command that broke must leave a trace.
          logError(`cache: remote ${dict.cmd ?? '?'} command failed`, error);
          reply.drop();
        },
      );
    }
    default:
      return reply.drop();
  }
});

/** Splits `name@host:port` into the cache name and the node. */
export function remoteCacheTarget(cache: string): { name: string; node: string } | null {
  const at = cache.indexOf('@');
  return at < 0 ? null : { name: cache.slice(0, at), node: cache.slice(at + 1) };
}

export type RemoteCommand = 'get' | 'exists' | 'set' | 'update' | 'del' | 'clear';

/**
 * Sends one magic command to `node`; resolves with the reply's value (get), true/false for the
 * others (false = the node closed without a reply: miss, refused, no such cache).
 */
export async function remoteCache(target: { name: string; node: string }, cmd: RemoteCommand, key: Uint8Array | string, value: Uint8Array | string | null, expires: number, timeoutMs: number): Promise<Buffer | boolean | null> {
  const bytes = value === null ? null : Buffer.from(value);
  const items: Array<string | Uint8Array> = ['cmd', cmd, 'key', typeof key === 'string' ? Buffer.from(key) : key];
  if (bytes !== null) items.push('size', String(bytes.length));
  if (expires > 0) items.push('expires', String(Math.floor(expires)));
  if (target.name !== '') items.push('cache', target.name);
  const dict = encodeArray(items);
  if (dict.length > 65535) throw tsgiError('TSGI_ERR_API_ARGUMENT', 'remote cache: key too long');
  const reply = await exchange(target.node, Buffer.concat([packetHeader(111, dict.length, MAGIC), dict, ...(bytes ? [bytes] : [])]), timeoutMs);
  if (reply.length < 4 || reply[0] !== 111) return cmd === 'get' ? null : false;
  const size = reply[1]! | (reply[2]! << 8);
  const answer = dictOf(reply.subarray(4, 4 + size));
  if (answer.status !== 'ok') return cmd === 'get' ? null : false;
  if (cmd !== 'get') return true;
  return reply.subarray(4 + size, 4 + size + Number(answer.size ?? 0));
}
