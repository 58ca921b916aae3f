/** The option and error tables: their invariants, and the README rendered from them. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderReadme } from '../../runtime/config/docs.js';
import { ERROR_CODES, tsgiError } from '../../runtime/errors.js';
import { OPTION_ROWS, parseArgv, renderHelp } from '../../runtime/options.js';
import { ROOT } from '../helpers/tsgi.js';

test('every option name, alias and short flag is unique', () => {
  const seen = new Set<string>();
  for (const row of OPTION_ROWS) {
    for (const name of [row.name, ...(row.aliases ?? []), ...(row.short ? [row.short] : [])]) {
      assert.not.ok(seen.has(name), `${name} is defined twice`);
      seen.add(name);
    }
  }
  assert.ok(renderHelp().includes('--reload-mercy'));
});

test('argv: long, =, short, aliases, flags and repeats', () => {
  const options = parseArgv(['-s', ':1', '--socket=:2', '--workers', '3', '-M', '--async=8', '--http-socket', '@x', '-w', 'a/b:c', '--master=false']);
  assert.equal(options.socket, [':1', ':2']);
  assert.is(options.processes, 3);
  assert.is(options.async, 8);
  assert.is(options.master, false, 'the later --master=false wins');
  assert.equal(options['http-socket'], ['@x']);
  assert.is(options.module, 'a/b:c');
  assert.is(options.callable, 'application');
});

test('argv errors carry stable codes', () => {
  const codeOf = (argv: string[]) => {
    try {
      parseArgv(argv);
    } catch (error) {
      return (error as { code: string }).code;
    }
    return 'none';
  };
  assert.is(codeOf(['--nope']), 'TSGI_ERR_OPT_UNKNOWN');
  assert.is(codeOf(['--listen', '0']), 'TSGI_ERR_OPT_VALUE');
  assert.is(codeOf(['--protocol', 'gopher']), 'TSGI_ERR_OPT_VALUE');
  assert.is(codeOf(['--socket', '[::1:80']), 'TSGI_ERR_OPT_VALUE');
  assert.is(codeOf(['--async']), 'TSGI_ERR_OPT_MISSING_VALUE');
  assert.is(codeOf(['stray']), 'TSGI_ERR_OPT_ARGUMENT');
});

test('error table: code = key, the base class is kept, request errors carry a status', () => {
  const codes = Object.keys(ERROR_CODES);
  assert.is(codes.length, 76);
  for (const code of codes) {
    const error = tsgiError(code as keyof typeof ERROR_CODES, 'x');
    assert.is(error.code, code);
    assert.instance(error, ERROR_CODES[code as keyof typeof ERROR_CODES].base);
  }
  assert.is(tsgiError('TSGI_ERR_UWSGI_BLOCK_SIZE', 'x').status, 400);
  assert.instance(tsgiError('TSGI_ERR_APP_HEADERS', 'x'), TypeError);
});

test('README option and error tables are exactly what the tables render (npm run docs)', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  assert.fixture(readme, renderReadme(readme));
  const listed = [...readme.matchAll(/^\| `(TSGI_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]);
  assert.equal(listed, Object.keys(ERROR_CODES));
});

test.run();
