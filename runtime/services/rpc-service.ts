/**
 * uWSGI RPC: a per-process function table (every worker imports the app, so each registers its
 * functions), local calls, and remote calls over the uwsgi protocol with modifier1 173 in both
 * directions (uWSGI's `core/rpc.c` and `plugins/rpc/rpc_plugin.c`).
 */
import { tsgiError } from '../errors.js';
import { logError } from '../logger.js';
import { parseArray } from '../protocols/uwsgi/parser.js';
import { encodeArray, encodeDict, exchange, packetHeader } from '../protocols/uwsgi/packet.js';
import { registerService } from './registry.js';

export type RpcFunction = (...args: Buffer[]) => unknown;

/** uWSGI's --rpc-max default. */
const RPC_MAX = 64;
const MAX_ARGS = 254;
const MAX_PACKET = 65535;

const table = new Map<string, RpcFunction>();

export function registerRpc(name: string, fn: RpcFunction): void {
  if (typeof name !== 'string' || name === '' || Buffer.byteLength(name) >= 256) throw tsgiError('TSGI_ERR_API_ARGUMENT', 'uwsgi.register_rpc: the name must be 1-255 bytes');
  if (typeof fn !== 'function') throw tsgiError('TSGI_ERR_API_ARGUMENT', 'uwsgi.register_rpc: the function must be a function');
  if (!table.has(name) && table.size >= RPC_MAX) throw tsgiError('TSGI_ERR_API_ARGUMENT', `uwsgi.register_rpc: the table is full (${RPC_MAX} functions)`);
  table.set(name, fn);
}

export function rpcNames(): string[] {
  return [...table.keys()];
}

/** A result as bytes, or null when it is empty or not a string/Buffer (an RPC failure). */
function toBytes(result: unknown): Buffer | null {
  if (typeof result === 'string') return result === '' ? null : Buffer.from(result);
  if (result instanceof Uint8Array) return result.length === 0 ? null : Buffer.from(result.buffer, result.byteOffset, result.length);
  return null;
}

function checkArgs(args: unknown[]): Buffer[] {
  if (args.length > MAX_ARGS) throw tsgiError('TSGI_ERR_API_ARGUMENT', `uwsgi.rpc: at most ${MAX_ARGS} arguments`);
  return args.map((arg) => {
    if (typeof arg === 'string') return Buffer.from(arg);
    if (arg instanceof Uint8Array) return Buffer.from(arg);
    throw tsgiError('TSGI_ERR_API_ARGUMENT', 'uwsgi.rpc: arguments must be strings or Buffers');
  });
}

/** Calls a local function; its result (or the Promise of it) as bytes, null on failure. */
export function callLocal(name: string, args: unknown[]): Buffer | null | Promise<Buffer | null> {
  const fn = table.get(name);
  if (!fn) return null;
  const result = fn(...checkArgs(args));
  if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
    return Promise.resolve(result).then(toBytes);
  }
  return toBytes(result);
}

/** Calls `name` on the uwsgi node `node` (host:port, a unix path, @abstract). */
export async function callRemote(node: string, name: string, args: unknown[], timeoutMs: number): Promise<Buffer | null> {
  const body = encodeArray([name, ...checkArgs(args)]);
  if (body.length > MAX_PACKET) throw tsgiError('TSGI_ERR_API_ARGUMENT', `uwsgi.rpc: the request is ${body.length} bytes, more than ${MAX_PACKET}`);
  const reply = await exchange(node, Buffer.concat([packetHeader(173, body.length, 0), body]), timeoutMs);
  if (reply.length < 4 || reply[0] !== 173) return null;
  const size = reply[1]! | (reply[2]! << 8);
  if (reply[3] === 5) {
    // A result over 64 KiB: a dict with CONTENT_LENGTH, then the raw bytes.
    const length = Number(parseDictValue(reply.subarray(4, 4 + size), 'CONTENT_LENGTH'));
    return reply.subarray(4 + size, 4 + size + length);
  }
  return reply.subarray(4, 4 + size);
}

function parseDictValue(block: Buffer, key: string): string | undefined {
  const items = parseArray(block, 0, block.length).map((item) => item.toString('latin1'));
  for (let i = 0; i + 1 < items.length; i += 2) if (items[i] === key) return items[i + 1];
  return undefined;
}

function encodeResult(result: Buffer, modifier2: number): Buffer {
  if (modifier2 === 1) return result;
  if (result.length <= MAX_PACKET) return Buffer.concat([packetHeader(173, result.length, 0), result]);
  const dict = encodeDict({ CONTENT_LENGTH: String(result.length) });
  return Buffer.concat([packetHeader(173, dict.length, 5), dict, result]);
}

// The server side: `[173, size, mod2] + array(name, args…)`; failure = close without reply.
registerService(173, (packet, reply) => {
  let result: Buffer | null | Promise<Buffer | null>;
  try {
    const [name, ...args] = parseArray(packet.payload!, 0, packet.payload!.length);
    if (name === undefined) return reply.drop();
    result = callLocal(name.toString(), args);
  } catch (error) {
    logError('rpc call failed', error);
    return reply.drop();
  }
  const answer = (bytes: Buffer | null) => (bytes === null ? reply.drop() : reply.send(encodeResult(bytes, packet.modifier2)));
  if (result instanceof Promise) result.then(answer, (error) => (logError('rpc call failed', error), reply.drop()));
  else answer(result);
});
