/**
 * The `env` an app receives: CGI variables as own properties, exactly as the protocol
 * delivered them, plus the `tsgi.*` keys. The costly ones (the AbortSignal, the input) are
 * created only when the app reads them.
 */
import { EMPTY_INPUT, PushedInput, type RequestInput } from './input.js';

export class Environ {
  [key: string]: unknown;
  #input: RequestInput = EMPTY_INPUT;
  #controller: AbortController | null = null;

  /** The request body: `await env['tsgi.input']`, `for await (const c of …)`, `.stream()`. */
  get 'tsgi.input'(): RequestInput {
    return this.#input;
  }

  /** Aborts when the client disconnects or the worker halts the request (shutdown). */
  get 'tsgi.signal'(): AbortSignal {
    return (this.#controller ??= new AbortController()).signal;
  }

  /** @internal */
  static setInput(env: Environ, input: RequestInput): void {
    env.#input = input;
  }

  /** @internal Fires `tsgi.signal` (if anyone asked for it) and fails pending body reads. */
  static abort(env: Environ, reason: Error): void {
    env.#controller?.abort(reason);
    if (env.#input instanceof PushedInput) env.#input.destroy(reason);
  }
}
