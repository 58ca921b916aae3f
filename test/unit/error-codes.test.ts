/** Errors tsgi raises on purpose carry a code from the table, also where they were plain Errors once. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isTsgiError } from '../../runtime/errors.js';
import { applyOption, defaultOptions, COMMAND_LINE } from '../../runtime/options.js';
import { createProtocolServer } from '../../runtime/protocols/registry.js';
import { parseArray } from '../../runtime/protocols/uwsgi/parser.js';
import { throwsCode } from '../helpers/assertions.js';

test('a truncated uwsgi array (RPC, remote cache) is TSGI_ERR_UWSGI_TRUNCATED_VARS, a typed tsgi error', () => {
  const packet = Buffer.from([5, 0, 0x61, 0x62]); // an item of 5 bytes, 2 present
  const error = throwsCode(() => parseArray(packet, 0, packet.length), 'TSGI_ERR_UWSGI_TRUNCATED_VARS');
  assert.is((error as { status?: number }).status, 400);
});

test('a protocol no socket can speak is TSGI_ERR_INTERNAL', async () => {
  try {
    await createProtocolServer('gopher', {} as never);
    assert.unreachable('no error');
  } catch (error) {
    assert.ok(isTsgiError(error, 'TSGI_ERR_INTERNAL'), String(error));
    assert.match((error as Error).message, /no protocol named gopher \(known: uwsgi, http, fastcgi\)/);
  }
});

test('applying a config-file option as a value is TSGI_ERR_INTERNAL (the expander reads it)', () => {
  throwsCode(() => applyOption(defaultOptions(), 'ini', 'app.ini', COMMAND_LINE), 'TSGI_ERR_INTERNAL');
});

test.run();
