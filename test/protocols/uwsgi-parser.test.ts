import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DEFAULT_BUFFER_SIZE,
  DEFAULT_MAX_PAIRS,
  DONE,
  NEED_MORE,
  parseArray,
  parseVars,
  UWSGI_ERR_BLOCK_SIZE,
  UWSGI_ERR_TOO_MANY_VARS,
  UWSGI_ERRORS,
  UwsgiRequestReader,
  uwsgiErrorMessage,
} from '../../runtime/protocols/uwsgi/parser.js';
import {
  encodeArray,
  encodeUwsgiPacket,
  encodeVars,
  nginxLikeVars,
  parseRawHttpResponse,
  uwsgiRequest,
} from '../helpers/uwsgi-client.js';

// Tests run from dist/test/protocols/, the fixtures stay in the source tree.
const corpus = new URL('../../../test/protocols/uwsgi/', import.meta.url);

interface ValidExpect {
  modifier1: number;
  modifier2: number;
  vars: Record<string, string>;
  rest: string | null;
  contentLength: number;
}

/** Fixture bytes: hex pairs, whitespace ignored, `#` starts a comment. */
function readHex(url: URL): Buffer {
  const digits = readFileSync(url, 'latin1').replace(/#.*$/gm, '').replace(/\s+/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(digits)) throw new Error(`bad hex in ${url.pathname}`);
  return Buffer.from(digits, 'hex');
}

function loadCorpus<T>(kind: 'valid' | 'invalid'): Array<{ name: string; packet: Buffer; expect: T }> {
  const dir = new URL(`${kind}/`, corpus);
  return readdirSync(dir)
    .filter((file) => file.endsWith('.hex'))
    .sort()
    .map((file) => {
      const id = file.slice(0, -'.hex'.length);
      return {
        name: `${kind}/${id}`,
        packet: readHex(new URL(file, dir)),
        expect: JSON.parse(readFileSync(new URL(`${id}.expect.json`, dir), 'utf8')) as T,
      };
    });
}

/** Whole, split in two at every byte boundary, and one byte at a time. */
function feedings(packet: Buffer): Array<{ how: string; chunks: Buffer[] }> {
  const ways = [{ how: 'whole', chunks: [packet] }];
  for (let at = 1; at < packet.length; at++) {
    ways.push({ how: `split at ${at}`, chunks: [packet.subarray(0, at), packet.subarray(at)] });
  }
  ways.push({ how: 'byte by byte', chunks: Array.from(packet, (_, i) => packet.subarray(i, i + 1)) });
  return ways;
}

/**
 * Pushes chunks until the reader stops asking for more. `after` is what a server would see as
 * the start of the body: the reader's rest plus the chunks it was never given.
 */
function feed(reader: UwsgiRequestReader, chunks: Buffer[]): { status: number; after: Buffer } {
  reader.reset({});
  for (let i = 0; i < chunks.length; i++) {
    const status = reader.push(chunks[i]);
    if (status !== NEED_MORE) {
      return { status, after: Buffer.concat([reader.rest ?? Buffer.alloc(0), ...chunks.slice(i + 1)]) };
    }
  }
  return { status: NEED_MORE, after: Buffer.alloc(0) };
}

// One reader for the whole corpus, so every feeding also checks that reset() clears the state.
const shared = new UwsgiRequestReader(DEFAULT_BUFFER_SIZE, DEFAULT_MAX_PAIRS);

for (const { name, packet, expect } of loadCorpus<ValidExpect>('valid')) {
  test(`${name} parses the same whole, split and byte by byte`, () => {
    for (const { how, chunks } of feedings(packet)) {
      const { status, after } = feed(shared, chunks);
      assert.is(status, DONE, `${how}: status`);
      assert.is(shared.modifier1, expect.modifier1, `${how}: modifier1`);
      assert.is(shared.modifier2, expect.modifier2, `${how}: modifier2`);
      assert.equal(shared.vars, expect.vars, `${how}: vars`);
      assert.is(shared.contentLength, expect.contentLength, `${how}: contentLength`);
      assert.is(after.toString('hex'), expect.rest ?? '', `${how}: bytes after the vars`);
    }
    feed(shared, [packet]);
    assert.is(shared.rest === null ? null : shared.rest.toString('hex'), expect.rest, 'whole: rest');
  });
}

for (const { name, packet, expect } of loadCorpus<{ code: string }>('invalid')) {
  test(`${name} fails with ${expect.code} whole, split and byte by byte`, () => {
    for (const { how, chunks } of feedings(packet)) {
      const { status } = feed(shared, chunks);
      assert.is(UWSGI_ERRORS[status], expect.code, `${how}: status ${status}`);
    }
  });
}

test('rest is a view of the pushed chunk, null when the chunk ends with the vars', () => {
  const reader = new UwsgiRequestReader(DEFAULT_BUFFER_SIZE, DEFAULT_MAX_PAIRS);
  const packet = encodeUwsgiPacket({ CONTENT_LENGTH: '4' }, 'body');
  reader.reset({});
  assert.is(reader.push(packet), DONE);
  assert.is(reader.rest?.buffer, packet.buffer);
  assert.is(reader.rest?.toString(), 'body');
  reader.reset({});
  assert.is(reader.push(packet.subarray(0, packet.length - 4)), DONE);
  assert.is(reader.rest, null);
});

test('vars are written into the object given to reset()', () => {
  const reader = new UwsgiRequestReader(DEFAULT_BUFFER_SIZE, DEFAULT_MAX_PAIRS);
  const env: Record<string, unknown> = { 'tsgi.version': 1 };
  reader.reset(env);
  assert.is(reader.push(encodeUwsgiPacket({ PATH_INFO: '/x' })), DONE);
  assert.is(reader.vars, env);
  assert.equal(env, { 'tsgi.version': 1, PATH_INFO: '/x' });
});

test('empty chunks ask for more', () => {
  const reader = new UwsgiRequestReader(DEFAULT_BUFFER_SIZE, DEFAULT_MAX_PAIRS);
  const packet = encodeUwsgiPacket({ a: 'b' });
  reader.reset({});
  assert.is(reader.push(Buffer.alloc(0)), NEED_MORE);
  assert.is(reader.push(packet.subarray(0, 5)), NEED_MORE);
  assert.is(reader.push(Buffer.alloc(0)), NEED_MORE);
  assert.is(reader.push(packet.subarray(5)), DONE);
  assert.equal(reader.vars, { a: 'b' });
});

test('bufferSize and maxPairs are the constructor limits', () => {
  const reader = new UwsgiRequestReader(20, 2);
  reader.reset({});
  assert.is(reader.push(encodeUwsgiPacket({ a: '1', b: '2' })), DONE);
  reader.reset({});
  assert.is(reader.push(encodeUwsgiPacket({ a: '1', b: '2', c: '3' })), UWSGI_ERR_TOO_MANY_VARS);
  reader.reset({});
  assert.is(reader.push(encodeUwsgiPacket({ key: 'a 21 byte dict' })), UWSGI_ERR_BLOCK_SIZE);
});

test('UWSGI_ERRORS maps exactly the four negative codes', () => {
  assert.equal(
    Object.entries(UWSGI_ERRORS).sort(([a], [b]) => Number(b) - Number(a)),
    [
      ['-1', 'TSGI_ERR_UWSGI_BLOCK_SIZE'],
      ['-2', 'TSGI_ERR_UWSGI_NULL_KEY'],
      ['-3', 'TSGI_ERR_UWSGI_TRUNCATED_VARS'],
      ['-4', 'TSGI_ERR_UWSGI_TOO_MANY_VARS'],
    ],
  );
});

test('uwsgiErrorMessage explains each code, with sizes when given the reader', () => {
  const reader = new UwsgiRequestReader(4096, 128);
  reader.reset({});
  assert.is(reader.push(Buffer.from([0, 0x88, 0x13, 0])), UWSGI_ERR_BLOCK_SIZE);
  assert.is(uwsgiErrorMessage(UWSGI_ERR_BLOCK_SIZE, reader), 'vars block of 5000 bytes exceeds --buffer-size 4096');
  assert.is(uwsgiErrorMessage(UWSGI_ERR_TOO_MANY_VARS, reader), 'more than 128 vars (2 x --max-vars)');
  for (const code of Object.keys(UWSGI_ERRORS).map(Number)) {
    assert.ok(!uwsgiErrorMessage(code).startsWith('unknown'), `code ${code}`);
  }
  assert.is(uwsgiErrorMessage(-99), 'unknown uwsgi parser status -99');
});

test('parseVars reads a range inside a larger buffer and counts duplicate pairs', () => {
  const dict = encodeVars([['k', 'v1'], ['k', 'v2'], ['e', '']]);
  const buf = Buffer.concat([Buffer.from('junk'), dict, Buffer.from('tail')]);
  const target: Record<string, unknown> = {};
  assert.is(parseVars(buf, 4, 4 + dict.length, target, 128), 3);
  assert.equal(target, { k: 'v2', e: '' });
});

test('more distinct keys than key-cache slots never get mixed up', () => {
  // 600 names in 512 slots: some must share a slot, whatever the hash.
  const pairs = Array.from({ length: 600 }, (_, i): [string, string] => [`HTTP_X_${i.toString(36)}`, String(i)]);
  const dict = encodeVars(pairs);
  for (let round = 0; round < 2; round++) {
    const target: Record<string, unknown> = {};
    assert.is(parseVars(dict, 0, dict.length, target, 1000), 600);
    assert.equal(target, Object.fromEntries(pairs));
  }
});

test('parseArray returns the items as views and skips zero-length ones', () => {
  const buf = Buffer.from([3, 0, 0x61, 0x64, 0x64, 0, 0, 1, 0, 0x31, 2, 0, 0x32, 0x33]);
  const items = parseArray(buf, 0, buf.length);
  assert.equal(items.map(String), ['add', '1', '23']);
  assert.is(items[0].buffer, buf.buffer);
  assert.equal(parseArray(buf, 5, 5), []);
});

test('parseArray rejects truncated items and, like uWSGI, a zero-length item at the very end', () => {
  const errorCode = (bytes: number[]) => {
    try {
      parseArray(Buffer.from(bytes), 0, bytes.length);
      return 'no error';
    } catch (error) {
      return (error as { code?: string }).code;
    }
  };
  assert.is(errorCode([5, 0, 0x61]), 'TSGI_ERR_UWSGI_TRUNCATED_VARS');
  assert.is(errorCode([1, 0, 0x61, 1]), 'TSGI_ERR_UWSGI_TRUNCATED_VARS');
  assert.is(errorCode([1, 0, 0x61, 0, 0]), 'TSGI_ERR_UWSGI_TRUNCATED_VARS');
});

test('encodeArray round-trips through parseArray, dropping empty items', () => {
  const encoded = encodeArray(['fn', Buffer.from([0, 255]), '', 'é']);
  const items = parseArray(encoded, 0, encoded.length);
  assert.equal(items.map((item) => item.toString('hex')), ['666e', '00ff', 'c3a9']);
});

test('encodeVars round-trips through parseVars, pairs and object alike', () => {
  const vars: Array<[string, string]> = [['PATH_INFO', '/ü'], ['EMPTY', ''], ['X', 'x'.repeat(300)]];
  for (const input of [vars, Object.fromEntries(vars)]) {
    const dict = encodeVars(input);
    const target: Record<string, unknown> = {};
    assert.is(parseVars(dict, 0, dict.length, target, 128), 3);
    assert.equal(target, Object.fromEntries(vars));
  }
  assert.throws(() => encodeVars({ k: '€' }), /not latin1/);
  assert.throws(() => encodeVars({ k: 'x'.repeat(65536) }), /exceeds 65535/);
});

test('encodeUwsgiPacket writes the header and appends the body without adding vars', () => {
  const packet = encodeUwsgiPacket({ pippo: 'pluto' }, 'hi', 5, 9);
  assert.is(packet.toString('hex'), '050e0009' + '0500' + '706970706f' + '0500' + '706c75746f' + '6869');
  assert.is(encodeUwsgiPacket([]).toString('hex'), '00000000');
});

test('nginxLikeVars follows the stock uwsgi_params order, then the headers', () => {
  const vars = nginxLikeVars('GET', '/a//b/./c/../d%20e/?x=1', { headers: { Host: 'h', 'X-Req-Id': '7' } });
  assert.equal(vars, [
    ['QUERY_STRING', 'x=1'],
    ['REQUEST_METHOD', 'GET'],
    ['CONTENT_TYPE', ''],
    ['CONTENT_LENGTH', ''],
    ['REQUEST_URI', '/a//b/./c/../d%20e/?x=1'],
    ['PATH_INFO', '/a/b/d e/'],
    ['DOCUMENT_ROOT', '/usr/share/nginx/html'],
    ['SERVER_PROTOCOL', 'HTTP/1.1'],
    ['REQUEST_SCHEME', 'http'],
    ['REMOTE_ADDR', '127.0.0.1'],
    ['REMOTE_PORT', '54321'],
    ['SERVER_PORT', '80'],
    ['SERVER_NAME', 'localhost'],
    ['HTTP_HOST', 'h'],
    ['HTTP_X_REQ_ID', '7'],
  ]);
});

test('nginxLikeVars: https, content headers and params', () => {
  const vars = nginxLikeVars('POST', '/', {
    https: true,
    headers: [['Content-Type', 'text/plain'], ['Content-Length', '3']],
    params: { REMOTE_ADDR: '10.0.0.1', UWSGI_SCHEME: 'https' },
  });
  const byName = Object.fromEntries(vars);
  assert.is(byName.HTTPS, 'on');
  assert.is(byName.REQUEST_SCHEME, 'https');
  assert.is(byName.SERVER_PORT, '443');
  assert.is(byName.CONTENT_TYPE, 'text/plain');
  assert.is(byName.CONTENT_LENGTH, '3');
  assert.is(byName.HTTP_CONTENT_LENGTH, '3');
  assert.is(vars.findIndex(([key]) => key === 'REMOTE_ADDR'), 10);
  assert.is(vars.findIndex(([key]) => key === 'UWSGI_SCHEME'), 14);
});

test('parseRawHttpResponse splits status line, headers and body', () => {
  const raw = Buffer.from('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nX-A:b\r\n\r\nnope\r\n\r\n');
  const response = parseRawHttpResponse(raw);
  assert.is(response.status, 404);
  assert.is(response.statusLine, 'HTTP/1.1 404 Not Found');
  assert.equal(response.headers, [['Content-Type', 'text/plain'], ['X-A', 'b']]);
  assert.is(response.body.toString(), 'nope\r\n\r\n');
  assert.throws(() => parseRawHttpResponse(Buffer.from('HTTP/1.1 200 OK\r\n')), /no end of headers/);
});

/** A minimal uwsgi server: echoes the vars and body as JSON, drops bad packets like uWSGI. */
function startEchoServer() {
  const server = createServer((socket: Socket) => {
    const reader = new UwsgiRequestReader(DEFAULT_BUFFER_SIZE, DEFAULT_MAX_PAIRS);
    const env: Record<string, unknown> = {};
    const body: Buffer[] = [];
    let received = -1;
    reader.reset(env);
    const reply = () => {
      const json = JSON.stringify({ env, body: Buffer.concat(body).toString() });
      socket.end(`${env.SERVER_PROTOCOL ?? 'HTTP/1.0'} 200 OK\r\nContent-Type: application/json\r\n\r\n${json}`);
    };
    socket.on('data', (chunk: Buffer) => {
      if (received >= 0) {
        body.push(chunk);
        received += chunk.length;
      } else {
        const status = reader.push(chunk);
        if (status < 0) return socket.destroy();
        if (status === NEED_MORE) return;
        if (reader.rest) body.push(reader.rest);
        received = reader.rest?.length ?? 0;
      }
      if (received >= reader.contentLength) reply();
    });
  });
  return new Promise<{ port: number; close: () => void }>((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ port: (server.address() as AddressInfo).port, close: () => server.close() }),
    ),
  );
}

test('uwsgiRequest sends a packet and reads the raw HTTP response until close', async () => {
  const server = await startEchoServer();
  try {
    const body = 'x'.repeat(100_000);
    const vars = nginxLikeVars('POST', '/echo', { headers: { Host: 'h', 'Content-Length': String(body.length) } });
    const response = await uwsgiRequest({ port: server.port }, vars, body);
    assert.is(response.status, 200);
    assert.is(response.statusLine, 'HTTP/1.1 200 OK');
    assert.equal(response.headers, [['Content-Type', 'application/json']]);
    const echoed = JSON.parse(response.body.toString());
    assert.equal(echoed.env, Object.fromEntries(vars));
    assert.is(echoed.body, body);

    const dropped = await uwsgiRequest({ port: server.port }, [['', 'null key']]);
    assert.is(dropped.status, 0);
    assert.is(dropped.raw.length, 0);
  } finally {
    server.close();
  }
});

test.run();
