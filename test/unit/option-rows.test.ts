/**
 * The option table as assembled from the subsystems' row files: what the Options type derived
 * from the rows cannot see (a default its own row would reject, a section split by a row added
 * to the wrong file), the one list of protocol names, and the cross-option checks declared
 * beside the rows, run in table order.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OPTION_CHECKS, OPTION_ROWS, parseArgv, type Options } from '../../runtime/options.js';
import { PROTOCOLS, type ProtocolName } from '../../runtime/protocols/names.js';

/** The code of the first cross-option check that fails for `argv`, as read-options.ts runs them. */
function failedCheck(argv: string[]): string {
  const options = parseArgv(argv);
  try {
    for (const check of OPTION_CHECKS) check(options);
  } catch (error) {
    return `${(error as { code: string }).code}: ${(error as Error).message}`;
  }
  return 'none';
}

test('every default is a value its own row accepts, as the derived Options type assumes', () => {
  for (const row of OPTION_ROWS) {
    if (row.default === undefined) continue;
    assert.not.ok(row.repeatable || row.immediate, `--${row.name}: lists start empty and immediate rows are never stored`);
    if (row.kind === 'flag') assert.type(row.default, 'boolean', `--${row.name}`);
    else assert.is((parseArgv([`--${row.name}=${row.default}`]) as Record<string, unknown>)[row.name], row.default, `--${row.name}`);
  }
});

test('each section is one block of rows, so --help lists every section once', () => {
  const sections = OPTION_ROWS.map((row) => row.section).filter((section, i, all) => section !== all[i - 1]);
  assert.equal(sections, [...new Set(sections)]);
});

test('--protocol takes its choices from the one list of protocol names', () => {
  assert.equal(OPTION_ROWS.find((row) => row.name === 'protocol')!.choices, PROTOCOLS);
  assert.throws(() => parseArgv(['--protocol', 'gopher']), /expected one of uwsgi, http, fastcgi$/);
  const protocol: ProtocolName = parseArgv(['--protocol', 'http']).protocol;
  assert.is(protocol, 'http');
});

test('the Options type is the rows: lists, optional keys, and no key without a row', () => {
  const options: Options = parseArgv(['--spooler', '/tmp/s']);
  const spoolers: string[] = options.spooler;
  const app: string | undefined = options.module;
  // @ts-expect-error no row is named so, and immediate rows (--ini) are never stored.
  const stray: unknown = options.ini;
  assert.equal([spoolers, app, stray], [['/tmp/s'], undefined, undefined]);
});

test('cross-option checks keep their codes and messages, first failure wins', () => {
  assert.is(failedCheck([]), 'TSGI_ERR_NO_SOCKET: nothing to listen on: give --socket, --http-socket, --fastcgi-socket or --zmq');
  assert.match(failedCheck(['--zmq', 'tcp://a:1']), /^TSGI_ERR_ZMQ_ADDRESS: bad --zmq "tcp:\/\/a:1"/);
  assert.is(failedCheck(['--socket', ':1']), 'TSGI_ERR_NO_APP: no app: give --module NAME or --wsgi-file PATH');
  assert.is(failedCheck(['--zmq', 'tcp://a:1,tcp://a:2', '--wsgi-file', 'app.ts']), 'none');
});

test.run();
