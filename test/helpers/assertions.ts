/** Assertions several unit tests share. */
import * as assert from 'uvu/assert';
import { isTsgiError } from '../../runtime/errors.js';

/** Asserts that `fn` throws a tsgi error with `code`, and returns it. */
export function throwsCode(fn: () => unknown, code: string): Error {
  try {
    fn();
  } catch (error) {
    assert.ok(isTsgiError(error), String(error));
    assert.is((error as { code: string }).code, code, (error as Error).message);
    return error as Error;
  }
  throw new assert.Assertion({ message: `expected ${code}, nothing was thrown`, generated: false, operator: 'throws', expects: code, actual: undefined });
}
