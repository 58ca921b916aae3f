/**
 * Config errors are collected, not thrown one at a time: a file with five bad lines should cost
 * one run to fix, not five. One error is thrown as it is (its own code and message); several
 * become one TSGI_ERR_CONFIG_INVALID that lists each on its own line, with its file:line.
 */
import { isTsgiError, tsgiError } from '../errors.js';

export class Problems {
  readonly #errors: Error[] = [];

  /** Runs `step`; a tsgi error it throws is kept for later, anything else (a bug) goes on. */
  collect(step: () => void): void {
    try {
      step();
    } catch (error) {
      if (!isTsgiError(error)) throw error;
      this.#errors.push(error);
    }
  }

  add(error: Error): void {
    this.#errors.push(error);
  }

  /** Throws what was collected, if anything. */
  throwIfAny(): void {
    const errors = this.#errors;
    if (errors.length === 0) return;
    if (errors.length === 1) throw errors[0]!;
    const lines = errors.map((error) => `  ${error.message}`).join('\n');
    throw tsgiError('TSGI_ERR_CONFIG_INVALID', `${errors.length} errors in the configuration: fix each line below, then run again\n${lines}`);
  }
}
