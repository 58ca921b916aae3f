/** uWSGI RPC from an app: register functions, call them locally or on any uwsgi node. */
import { callLocal, callRemote, registerRpc, rpcNames, type RpcFunction } from '../runtime/services/rpc-service.js';
import { workerContext } from '../runtime/context.js';
import { Resolved } from '../green/suspend.js';

type RpcResult = Buffer | null;

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
   * Calls `name` with string/Buffer `args` and hands back something to `yield` (generator) or
   * `await` (async function); either evaluates to the result, a Buffer, or null on failure.
   * `node` empty or null calls this worker's function: its result is ready at once, but comes
   * wrapped the same way, so one `yield uwsgi.rpc(node, ...)` serves a local and a remote node
   * alike (use `uwsgi.call` for the plain synchronous value). `host:port`, a unix path or `@name`
   * calls a remote tsgi or uWSGI over the uwsgi protocol (modifier1 173): the green thread
   * parks, the worker does not block.
   * @example
   * const local = yield uwsgi.rpc('', 'hello', 'Serena');
   * const remote = yield uwsgi.rpc('192.168.0.1:3031', 'hello');
   * const awaited = await uwsgi.rpc(null, 'hello'); // in an async function
   */
  rpc(node: string | null, name: string, ...args: Array<string | Uint8Array>): PromiseLike<RpcResult> {
    const context = workerContext('rpc');
    if (node) return callRemote(node, name, args, context.options['socket-timeout'] * 1000);
    const result = callLocal(name, args);
    return result instanceof Promise ? result : (new Resolved(result) as PromiseLike<RpcResult>);
  },
  /**
   * Calls a local RPC function and returns its result synchronously (uwsgi.call in uWSGI): a
   * Buffer, null on failure, or a Promise if the function is async.
   * @example
   * const text = uwsgi.call('hello', 'Alessandro')?.toString();
   */
  call(name: string, ...args: Array<string | Uint8Array>): RpcResult | Promise<RpcResult> {
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
