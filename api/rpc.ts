/** uWSGI RPC from an app: register functions, call them locally or on any uwsgi node. */
import { callLocal, callRemote, registerRpc, rpcNames, type RpcFunction } from '../runtime/services/rpc-service.js';
import { workerContext } from '../runtime/context.js';

export const rpcApi = {
  /**
   * Registers `fn` under `name` (1-255 bytes; up to 64 functions) for local and remote calls.
   * It receives its arguments as Buffers and returns a string or Buffer (or a Promise of one);
   * an empty result, another type or an exception is a failed call.
   * @example
   * uwsgi.register_rpc('hello', (who) => `hello ${who ?? 'world'}`);
   */
  register_rpc(name: string, fn: RpcFunction, _argc = 0): true {
    workerContext('register_rpc');
    registerRpc(name, fn);
    return true;
  },
  /**
   * Calls `name` with string/Buffer `args`. `node` empty or null calls this worker's function
   * and returns its result (Buffer, or null on failure); `host:port`, a unix path or `@name`
   * calls a remote tsgi or uWSGI over the uwsgi protocol (modifier1 173) and returns a Promise:
   * yield it in a generator (the green thread parks, the worker does not block) or await it.
   * @example
   * const local = uwsgi.rpc('', 'hello', 'Serena');
   * const remote = yield uwsgi.rpc('192.168.0.1:3031', 'hello');
   */
  rpc(node: string | null, name: string, ...args: Array<string | Uint8Array>): Buffer | null | Promise<Buffer | null> {
    const context = workerContext('rpc');
    if (!node) return callLocal(name, args);
    return callRemote(node, name, args, context.options['socket-timeout'] * 1000);
  },
  /**
   * Calls a local RPC function (uwsgi.call in uWSGI).
   * @example
   * const text = uwsgi.call('hello', 'Alessandro')?.toString();
   */
  call(name: string, ...args: Array<string | Uint8Array>): Buffer | null | Promise<Buffer | null> {
    workerContext('call');
    return callLocal(name, args);
  },
  /**
   * Names of the functions this worker registered.
   * @example
   * console.log(uwsgi.rpc_list());
   */
  rpc_list(): string[] {
    workerContext('rpc_list');
    return rpcNames();
  },
};
