import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ABORT,
  BEGIN,
  decodeParams,
  DEFAULT_BUFFER_SIZE,
  DEFAULT_MAX_PAIRS,
  FASTCGI_ERR_PARAMS,
  FASTCGI_ERR_RECORD,
  FASTCGI_ERR_TOO_MANY_PARAMS,
  FASTCGI_ERR_VERSION,
  FASTCGI_ERRORS,
  FastcgiParser,
  GET_VALUES,
  NEED_MORE,
  PARAMS,
  REFUSE,
  STDIN,
  UNKNOWN_TYPE,
} from '../../runtime/protocols/fastcgi/parser.js';
import {
  decodeNameValues,
  decodeRecords,
  encodeBeginRequest,
  encodeLength,
  encodeNameValues,
  encodeRecord,
  encodeRequest,
  nginxLikeFastcgiParams,
  parseCgiResponse,
  TYPE,
} from '../helpers/fastcgi-client.js';

// Tests run from dist/test/protocols/, the fixtures stay in the source tree.
const corpus = new URL('../../../test/protocols/fastcgi/', import.meta.url);

type Event = Record<string, unknown> & { event: string };

/** Fixture bytes: hex pairs, whitespace ignored, `#` starts a comment. */
function readHex(url: URL): Buffer {
  const digits = readFileSync(url, 'latin1').replace(/#.*$/gm, '').replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(digits)) throw new Error(`bad hex in ${url.pathname}`);
  return Buffer.from(digits, 'hex');
}

function loadCorpus<T>(kind: 'valid' | 'invalid'): Array<{ name: string; bytes: Buffer; expect: T }> {
  const dir = new URL(`${kind}/`, corpus);
  return readdirSync(dir)
    .filter((file) => file.endsWith('.hex'))
    .sort()
    .map((file) => {
      const id = file.slice(0, -'.hex'.length);
      return { name: `${kind}/${id}`, bytes: readHex(new URL(file, dir)), expect: JSON.parse(readFileSync(new URL(`${id}.expect.json`, dir), 'utf8')) as T };
    });
}

/** Whole, split in two at every byte boundary, and one byte at a time. */
function feedings(bytes: Buffer): Array<{ how: string; chunks: Buffer[] }> {
  const ways = [{ how: 'whole', chunks: [bytes] }];
  for (let at = 1; at < bytes.length; at++) ways.push({ how: `split at ${at}`, chunks: [bytes.subarray(0, at), bytes.subarray(at)] });
  ways.push({ how: 'byte by byte', chunks: Array.from(bytes, (_, i) => bytes.subarray(i, i + 1)) });
  return ways;
}

/**
 * Feeds the chunks and records the events as plain objects. Like the server, it ends a request
 * once its body has ended (the response would go out then). Stops at the first error.
 */
function run(chunks: Buffer[]): { events: Event[]; status: number } {
  const parser = new FastcgiParser(DEFAULT_BUFFER_SIZE, DEFAULT_MAX_PAIRS);
  const events: Event[] = [];
  for (const chunk of chunks) {
    parser.push(chunk);
    for (let status = parser.next(); status !== NEED_MORE; status = parser.next()) {
      if (status < 0) return { events, status };
      switch (status) {
        case BEGIN:
          events.push({ event: 'BEGIN', requestId: parser.requestId, keepConn: parser.keepConn });
          break;
        case PARAMS:
          events.push({ event: 'PARAMS', vars: { ...parser.vars } });
          break;
        case STDIN:
          events.push({ event: 'STDIN', hex: parser.content.toString('hex') });
          if (parser.content.length === 0) parser.endRequest();
          break;
        case ABORT:
          events.push({ event: 'ABORT' });
          break;
        case GET_VALUES:
          events.push({ event: 'GET_VALUES', names: parser.names });
          break;
        case UNKNOWN_TYPE:
          events.push({ event: 'UNKNOWN_TYPE', recordType: parser.recordType });
          break;
        case REFUSE:
          events.push({ event: 'REFUSE', requestId: parser.refusedId, protocolStatus: parser.protocolStatus });
          break;
        default:
          throw new Error(`unexpected status ${status}`);
      }
    }
  }
  return { events, status: NEED_MORE };
}

for (const { name, bytes, expect } of loadCorpus<{ events: Event[] }>('valid')) {
  test(`${name} gives the same events whole, split at every byte and byte by byte`, () => {
    for (const { how, chunks } of feedings(bytes)) {
      const { events, status } = run(chunks);
      assert.is(status, NEED_MORE, `${how}: no error`);
      assert.equal(events, expect.events, how);
    }
  });
}

for (const { name, bytes, expect } of loadCorpus<{ code: string }>('invalid')) {
  test(`${name} fails with ${expect.code} whole, split at every byte and byte by byte`, () => {
    for (const { how, chunks } of feedings(bytes)) {
      const { status } = run(chunks);
      assert.is(FASTCGI_ERRORS[status], expect.code, `${how}: status ${status}`);
    }
  });
}

test('an error sticks: every later next() returns it, with a reason for the log', () => {
  const parser = new FastcgiParser(DEFAULT_BUFFER_SIZE, DEFAULT_MAX_PAIRS);
  parser.push(encodeRecord(TYPE.BEGIN_REQUEST, 1, Buffer.alloc(8), { version: 9 }));
  assert.is(parser.next(), FASTCGI_ERR_VERSION);
  assert.match(parser.reason, /version 9/);
  parser.push(encodeBeginRequest(1));
  assert.is(parser.next(), FASTCGI_ERR_VERSION);
});

test('content is a view of the pushed chunk for a whole record, a stable copy for a split one', () => {
  const parser = new FastcgiParser(DEFAULT_BUFFER_SIZE, DEFAULT_MAX_PAIRS);
  const request = encodeRequest({ CONTENT_LENGTH: '6' }, 'abcdef', { stdinRecordSize: 3 });
  parser.push(request);
  assert.is(parser.next(), BEGIN);
  assert.is(parser.next(), PARAMS);
  assert.is(parser.next(), STDIN);
  assert.is(parser.content.buffer, request.buffer, 'whole record: a view');
  assert.is(parser.content.toString(), 'abc');
  parser.endRequest();

  const split = encodeRequest({}, 'xyz');
  const at = split.length - 8 - 2; // inside the 'xyz' STDIN record
  const first = Buffer.from(split.subarray(0, at));
  const second = Buffer.from(split.subarray(at));
  parser.push(first);
  for (let status = parser.next(); status !== NEED_MORE; status = parser.next()) assert.ok(status > 0);
  parser.push(second);
  assert.is(parser.next(), STDIN);
  const content = parser.content;
  assert.is(parser.next(), STDIN);
  assert.is(parser.content.length, 0);
  assert.is(parser.next(), NEED_MORE);
  first.fill(0);
  second.fill(0);
  assert.is(content.toString(), 'xyz', 'split record: a copy of its own');
  assert.is(content.toString(), 'xyz', 'still valid after later pushes');
});

test('partial, readingParams and readingBody follow the stream', () => {
  const parser = new FastcgiParser(DEFAULT_BUFFER_SIZE, DEFAULT_MAX_PAIRS);
  assert.is(parser.partial, false);
  const begin = encodeBeginRequest(1, { keepConn: true });
  parser.push(begin.subarray(0, 3));
  assert.is(parser.next(), NEED_MORE);
  assert.is(parser.partial, true);
  parser.push(begin.subarray(3));
  assert.is(parser.next(), BEGIN);
  assert.is(parser.next(), NEED_MORE);
  assert.is(parser.partial, false);
  assert.is(parser.readingParams, true);
  parser.push(Buffer.concat([encodeRecord(TYPE.PARAMS, 1, encodeNameValues({ A: 'b' })), encodeRecord(TYPE.PARAMS, 1)]));
  assert.is(parser.next(), PARAMS);
  assert.is(parser.readingParams, false);
  assert.is(parser.readingBody, true);
  parser.push(encodeRecord(TYPE.STDIN, 1));
  assert.is(parser.next(), STDIN);
  assert.is(parser.readingBody, false);
  assert.is(parser.requestId, 1, 'active until endRequest()');
  parser.endRequest();
  assert.is(parser.requestId, 0);
});

test('params go into the object newVars makes, one per request', () => {
  const made: Array<Record<string, unknown>> = [];
  const parser = new FastcgiParser(DEFAULT_BUFFER_SIZE, DEFAULT_MAX_PAIRS, () => {
    const target = Object.create(null) as Record<string, unknown>;
    made.push(target);
    return target;
  });
  for (let i = 0; i < 2; i++) {
    parser.push(encodeRequest([['__proto__', 'data'], ['I', String(i)]]));
    assert.is(parser.next(), BEGIN);
    assert.is(parser.next(), PARAMS);
    assert.is(parser.vars, made[i]);
    assert.is(parser.next(), STDIN);
    parser.endRequest();
  }
  assert.is(made.length, 2);
  assert.equal(Object.entries(made[1]!), [['__proto__', 'data'], ['I', '1']], 'a __proto__ param stays data');
});

test('decodeParams: 1- and 4-byte lengths, a range inside a larger buffer, limits', () => {
  const pairs = encodeNameValues([['a', 'x'.repeat(200)], ['b'.repeat(128), ''], ['a', 'last']]);
  const buf = Buffer.concat([Buffer.from('junk'), pairs, Buffer.from('tail')]);
  const target: Record<string, unknown> = {};
  assert.is(decodeParams(buf, 4, 4 + pairs.length, target, 128), 3);
  assert.equal(target, { a: 'last', ['b'.repeat(128)]: '' });
  assert.is(decodeParams(buf, 4, 4 + pairs.length, {}, 2), FASTCGI_ERR_TOO_MANY_PARAMS);
  assert.is(decodeParams(pairs, 0, pairs.length - 1, {}, 128), FASTCGI_ERR_PARAMS);
  assert.is(decodeParams(Buffer.alloc(0), 0, 0, {}, 128), 0);
  // The top bit of a 4-byte length is the marker, not part of the length.
  const forced = Buffer.concat([encodeLength(1, true), encodeLength(2, true), Buffer.from('kvv')]);
  const out: Record<string, unknown> = {};
  assert.is(decodeParams(forced, 0, forced.length, out, 128), 1);
  assert.equal(out, { k: 'vv' });
});

test('more distinct names than name-cache slots never get mixed up', () => {
  const pairs = Array.from({ length: 600 }, (_, i): [string, string] => [`HTTP_X_${i.toString(36)}`, String(i)]);
  const stream = encodeNameValues(pairs);
  for (let round = 0; round < 2; round++) {
    const target: Record<string, unknown> = {};
    assert.is(decodeParams(stream, 0, stream.length, target, 1000), 600);
    assert.equal(target, Object.fromEntries(pairs));
  }
});

test('STDIN after the end of the body is an error while the request is still active', () => {
  const parser = new FastcgiParser(DEFAULT_BUFFER_SIZE, DEFAULT_MAX_PAIRS);
  parser.push(Buffer.concat([encodeRequest({}), encodeRecord(TYPE.STDIN, 1, 'late')]));
  assert.equal([parser.next(), parser.next(), parser.next(), parser.next()], [BEGIN, PARAMS, STDIN, FASTCGI_ERR_RECORD]);
  assert.match(parser.reason, /after the end of its body/);
  // Once the response is out (endRequest), late records for the old id are skipped instead.
  const after = new FastcgiParser(DEFAULT_BUFFER_SIZE, DEFAULT_MAX_PAIRS);
  after.push(encodeRequest({}));
  assert.equal([after.next(), after.next(), after.next()], [BEGIN, PARAMS, STDIN]);
  after.endRequest();
  after.push(encodeRecord(TYPE.STDIN, 1, 'late'));
  assert.is(after.next(), NEED_MORE);
});

test('a pushed chunk is kept whole when next() is not drained first', () => {
  const parser = new FastcgiParser(DEFAULT_BUFFER_SIZE, DEFAULT_MAX_PAIRS);
  const request = encodeRequest({ A: '1' });
  parser.push(request.subarray(0, 20));
  parser.push(request.subarray(20));
  const statuses: number[] = [];
  for (let status = parser.next(); status !== NEED_MORE; status = parser.next()) statuses.push(status);
  assert.equal(statuses, [BEGIN, PARAMS, STDIN]);
});

test('FASTCGI_ERRORS maps exactly the five negative codes', () => {
  assert.equal(Object.entries(FASTCGI_ERRORS).sort(([a], [b]) => Number(b) - Number(a)), [
    ['-1', 'TSGI_ERR_FASTCGI_VERSION'],
    ['-2', 'TSGI_ERR_FASTCGI_RECORD'],
    ['-3', 'TSGI_ERR_FASTCGI_PARAMS'],
    ['-4', 'TSGI_ERR_FASTCGI_PARAMS_SIZE'],
    ['-5', 'TSGI_ERR_FASTCGI_TOO_MANY_PARAMS'],
  ]);
  assert.is(FASTCGI_ERR_RECORD, -2);
});

test('client helper: records and name-values round-trip through its own decoders', () => {
  const pairs: Array<[string, string]> = [['PATH_INFO', '/é'], ['EMPTY', ''], ['LONG', 'x'.repeat(300)]];
  assert.equal(decodeNameValues(encodeNameValues(pairs)), pairs);
  const bytes = Buffer.concat([encodeRecord(TYPE.STDOUT, 3, 'hi', { padding: 6 }), encodeRecord(TYPE.END_REQUEST, 3, Buffer.alloc(8)), Buffer.from([1, 6])]);
  const { records, rest } = decodeRecords(bytes);
  assert.equal(records.map((r) => [r.type, r.requestId, r.content.toString(), r.padding]), [[6, 3, 'hi', 6], [3, 3, '\0'.repeat(8), 0]]);
  assert.is(rest.length, 2);
  assert.throws(() => encodeNameValues({ k: '€' }), /not latin1/);
  assert.throws(() => encodeRecord(TYPE.STDIN, 1, Buffer.alloc(65536)), /exceeds 65535/);
});

test('client helper: encodeRequest splits streams into records of the size asked for', () => {
  const { records } = decodeRecords(encodeRequest({ A: 'x'.repeat(10) }, Buffer.alloc(10), { requestId: 5, keepConn: true, paramsRecordSize: 4, stdinRecordSize: 6 }));
  assert.equal(records.map((r) => [r.type, r.content.length]), [[1, 8], [4, 4], [4, 4], [4, 4], [4, 1], [4, 0], [5, 6], [5, 4], [5, 0]]);
  assert.ok(records.every((r) => r.requestId === 5));
  assert.is(records[0]!.content[2], 1, 'FCGI_KEEP_CONN');
});

test('client helper: parseCgiResponse and nginxLikeFastcgiParams', () => {
  const response = parseCgiResponse(Buffer.from('Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope'));
  assert.is(response.status, 404);
  assert.equal(response.headers, [['Content-Type', 'text/plain']]);
  assert.is(response.body.toString(), 'nope');
  assert.is(parseCgiResponse(Buffer.from('X: y\r\n\r\n')).status, 200, 'no Status: means 200');
  const params = Object.fromEntries(nginxLikeFastcgiParams('GET', '/a%20b?x=1', [['Host', 'h'], ['X-Id', '7']]));
  assert.is(params.SCRIPT_NAME, '/a b');
  assert.is(params.PATH_INFO, undefined, 'stock fastcgi_params send no PATH_INFO');
  assert.is(params.HTTP_HOST, 'h');
  assert.is(params.HTTP_X_ID, '7');
});

test.run();
