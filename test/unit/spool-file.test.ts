/** The spool file's bytes (uWSGI's core/spooler.c) and the names tasks get. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeSpoolFile, encodeSpoolFile, spoolFileName, SPOOL_FILE_PREFIX } from '../../runtime/spooler/spool-file.js';

test('encodes [17, u16le dict length, 0] + the dict + the raw body', () => {
  const bytes = encodeSpoolFile({ func: 'topogigio', e: '' }, Buffer.from([0, 255]));
  const dict = Buffer.from([4, 0, ...Buffer.from('func'), 9, 0, ...Buffer.from('topogigio'), 1, 0, ...Buffer.from('e'), 0, 0]);
  assert.equal([...bytes], [17, dict.length, 0, 0, ...dict, 0, 255]);
});

test('decodes what it encodes, empty values and UTF-8 included', () => {
  const vars = { a: 'ü€', empty: '', 'ключ': 'значение' };
  assert.equal(decodeSpoolFile(encodeSpoolFile(vars, null), 'x'), { vars, body: null });
  const decoded = decodeSpoolFile(encodeSpoolFile(vars, Buffer.alloc(70_000, 7)), 'x');
  assert.is(decoded.body!.length, 70_000);
});

test('refuses pairs over 64 KiB: the body is the way for large data', () => {
  assert.throws(() => encodeSpoolFile({ big: 'x'.repeat(65_536) }, null), (error: Error & { code?: string }) => error.code === 'TSGI_ERR_SPOOL_ARGS');
  assert.throws(() => encodeSpoolFile({ a: 'x'.repeat(40_000), b: 'y'.repeat(40_000) }, null), /put large data in the 'body' key/);
});

test('a file that is not a spool file is named in the error', () => {
  const bad = (bytes: number[], pattern: RegExp) =>
    assert.throws(() => decodeSpoolFile(Buffer.from(bytes), 'uwsgi_spoolfile_on_h_1'), (error: Error & { code?: string }) => error.code === 'TSGI_ERR_SPOOL_FORMAT' && pattern.test(error.message));
  bad([17, 0], /uwsgi_spoolfile_on_h_1 is not a spool file: only 2 bytes/);
  bad([0, 0, 0, 0], /modifier1 is 0, not 17/);
  bad([17, 10, 0, 0, 1, 0], /announces 10 bytes of pairs, the file holds 2/);
  bad([17, 4, 0, 0, 1, 0, 97, 5], /the value length at byte 7 runs past the pairs/);
  bad([17, 3, 0, 0, 9, 0, 97], /a key length at byte 4 runs past the pairs/);
});

test("names follow uWSGI 2.0's pattern and never repeat", () => {
  const name = spoolFileName(1_700_000_000_123);
  assert.match(name, new RegExp(`^${SPOOL_FILE_PREFIX}[^_]+_${process.pid}_\\d+_\\d+_1700000000_123\\d{3}$`));
  assert.is.not(spoolFileName(), spoolFileName());
});

test.run();
