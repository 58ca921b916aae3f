/**
 * The Mongrel2 handler format without sockets: request messages (JSON and tnetstring headers)
 * into envs as uWSGI 2.0 builds them, disconnects, malformed messages, response frames with one
 * or several connection ids, keep-alive rules and the --zmq value.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isTsgiError } from '../../runtime/errors.js';
import {
  DISCONNECT, IGNORED, INVALID, Mongrel2Reader, REQUEST, encodeResponse, parseResponse, parseZmqSpec, requestKeepAlive,
  responseKeepsAlive, responsePrefix,
} from '../../runtime/protocols/zmq/mongrel2-parser.js';
import { encodeMongrel2Request } from '../helpers/mongrel2-peer.js';

const UUID = '54c6755b-9628-40a4-9a2d-cc82a816345e';
const reader = new Mongrel2Reader('test-host');

function read(message: Buffer | string): { status: number; env: Record<string, unknown> } {
  const env: Record<string, unknown> = {};
  const status = reader.read(typeof message === 'string' ? Buffer.from(message, 'latin1') : message, env);
  return { status, env };
}

const mongrel2Json = (headers: object, body = '', path = '/') => {
  const json = JSON.stringify(headers);
  return `${UUID} 7 ${path} ${Buffer.byteLength(json)}:${json},${Buffer.byteLength(body)}:${body},`;
};

test('JSON headers: every row of the spec §13 environ mapping', () => {
  const message = encodeMongrel2Request(UUID, '42', '/a/b?x=1&y=2', {
    method: 'POST',
    headers: { 'host': 'example.com:8080', 'x-forwarded-for': '10.0.0.1', 'content-type': 'text/plain', 'user-agent': 'curl/8', 'x-custom-thing': 'v' },
    body: 'hello',
    scheme: 'https',
  });
  const { status, env } = read(message);
  assert.is(status, REQUEST, reader.why);
  assert.is(reader.sender, UUID);
  assert.is(reader.connId, '42');
  assert.is(reader.path, '/a/b');
  assert.equal(env, {
    HTTP_X_FORWARDED_FOR: '10.0.0.1',
    HTTP_HOST: 'example.com:8080',
    CONTENT_TYPE: 'text/plain',
    HTTP_USER_AGENT: 'curl/8',
    HTTP_X_CUSTOM_THING: 'v',
    CONTENT_LENGTH: '5',
    REQUEST_METHOD: 'POST',
    SERVER_PROTOCOL: 'HTTP/1.1',
    QUERY_STRING: 'x=1&y=2',
    SCRIPT_NAME: '',
    PATH_INFO: '/a/b',
    REQUEST_URI: '/a/b?x=1&y=2',
    UWSGI_SCHEME: 'https',
    SERVER_PORT: '8080',
    REMOTE_ADDR: '10.0.0.1',
    SERVER_NAME: 'test-host',
  });
  assert.is(reader.body!.toString(), 'hello');
  assert.is(reader.contentLength, 5);
  assert.is(reader.uploadFile, null);
});

test('tnetstring headers give the same env; lists are joined; PATH before QUERY still builds REQUEST_URI', () => {
  const init = { headers: { 'accept': ['text/html', 'text/plain'], 'host': 'example.com' } };
  const json = read(encodeMongrel2Request(UUID, '3', '/p?q=1', init));
  const tnet = read(encodeMongrel2Request(UUID, '3', '/p?q=1', { ...init, format: 'tnetstring' }));
  assert.is(json.status, REQUEST);
  assert.is(tnet.status, REQUEST, reader.why);
  assert.equal(tnet.env, json.env);
  assert.is(tnet.env.HTTP_ACCEPT, 'text/html, text/plain');
  assert.is(tnet.env.REQUEST_URI, '/p?q=1');
  assert.is(tnet.env.SERVER_PORT, '80', 'no port in host: 80');
  // numbers, booleans and nulls in a tnetstring dict
  const dict = '4:PATH,1:/,6:METHOD,3:GET,3:x-n,2:42#3:x-b,4:true!3:x-z,0:~';
  const { status, env } = read(`${UUID} 1 / ${dict.length}:${dict}}0:,`);
  assert.is(status, REQUEST, reader.why);
  assert.is(env.HTTP_X_N, '42');
  assert.is(env.HTTP_X_B, 'true');
  assert.not.ok('HTTP_X_Z' in env);
});

test('defaults: no QUERY → "", no host → no SERVER_PORT, no x-forwarded-for → no REMOTE_ADDR', () => {
  const { status, env } = read(mongrel2Json({ PATH: '/x', METHOD: 'GET' }));
  assert.is(status, REQUEST);
  assert.is(env.QUERY_STRING, '');
  assert.is(env.REQUEST_URI, '/x');
  assert.is(env.SCRIPT_NAME, '');
  assert.not.ok('SERVER_PORT' in env);
  assert.not.ok('REMOTE_ADDR' in env);
  assert.not.ok('SERVER_PROTOCOL' in env, 'VERSION absent: the handler supplies its default');
  assert.is(reader.body, null);
});

test('header keys: first byte >= "a" is a header, the rest are Mongrel2 fields; CONTENT_* unprefixed', () => {
  const { env } = read(mongrel2Json({ PATH: '/', METHOD: 'GET', PATTERN: '/', URI: '/', 'X-Upper': 'no', 'content-length': '0', 'content-type': 'a/b', 'accept-encoding': 'gzip' }));
  assert.not.ok('HTTP_X_UPPER' in env);
  assert.not.ok('PATTERN' in env);
  assert.is(env.CONTENT_LENGTH, '0');
  assert.is(env.CONTENT_TYPE, 'a/b');
  assert.is(env.HTTP_ACCEPT_ENCODING, 'gzip');
});

test('x-forwarded-for with several hops: REMOTE_ADDR is the last (the peer Mongrel2 saw)', () => {
  assert.is(read(mongrel2Json({ PATH: '/', METHOD: 'GET', 'x-forwarded-for': '1.1.1.1, 2.2.2.2' })).env.REMOTE_ADDR, '2.2.2.2');
  assert.is(read(mongrel2Json({ PATH: '/', METHOD: 'GET', host: '[::1]:8443' })).env.SERVER_PORT, '8443');
  assert.is(read(mongrel2Json({ PATH: '/', METHOD: 'GET', host: '[::1]' })).env.SERVER_PORT, '80');
});

test('the body is read only when content-length > 0 (uWSGI)', () => {
  read(mongrel2Json({ PATH: '/', METHOD: 'POST' }, 'ignored'));
  assert.is(reader.body, null);
  read(mongrel2Json({ PATH: '/', METHOD: 'POST', 'content-length': '3' }, 'abc'));
  assert.is(reader.body!.toString(), 'abc');
  const binary = Buffer.from([0, 1, 2, 255, 44, 32]);
  const json = JSON.stringify({ PATH: '/', METHOD: 'POST', 'content-length': '6' });
  read(Buffer.concat([Buffer.from(`${UUID} 1 / ${json.length}:${json},6:`), binary, Buffer.from(',')]));
  assert.equal([...reader.body!], [...binary]);
});

test('disconnect messages (JSON and tnetstring headers) name the connection', () => {
  const body = '{"type":"disconnect"}';
  assert.is(read(`${UUID} 12 @* 17:{"METHOD":"JSON"},${body.length}:${body},`).status, DISCONNECT);
  assert.is(reader.connId, '12');
  assert.is(reader.sender, UUID);
  assert.is(read(`${UUID} 13 @* 16:6:METHOD,4:JSON,}${body.length}:${body},`).status, DISCONNECT);
  assert.is(reader.connId, '13');
  const other = '{"type":"chat"}';
  assert.is(read(`${UUID} 14 @chat 17:{"METHOD":"JSON"},${other.length}:${other},`).status, IGNORED);
});

test('uploads: upload-start alone is ignored, upload-done reads the body from the file', () => {
  const start = read(mongrel2Json({ PATH: '/up', METHOD: 'POST', 'content-length': '999999', 'x-mongrel2-upload-start': '/tmp/upload.1' }));
  assert.is(start.status, IGNORED);
  assert.match(reader.why, /upload in progress/);
  const done = read(mongrel2Json({ PATH: '/up', METHOD: 'POST', 'content-length': '999999', 'x-mongrel2-upload-start': '/tmp/upload.1', 'x-mongrel2-upload-done': '/tmp/upload.1' }));
  assert.is(done.status, REQUEST);
  assert.is(reader.uploadFile, '/tmp/upload.1');
  assert.is(reader.contentLength, 999999);
  assert.is(reader.body, null);
});

test('PATH_INFO is percent-decoded into a byte string (as HTTP and FastCGI do); REQUEST_URI stays raw', () => {
  const { status, env } = read(encodeMongrel2Request(UUID, '3', '/p%20q/%C3%A9%2f%zz?a=%41'));
  assert.is(status, REQUEST, reader.why);
  assert.is(env.PATH_INFO, '/p q/\u00c3\u00a9/%zz');
  assert.is(env.REQUEST_URI, '/p%20q/%C3%A9%2f%zz?a=%41');
  assert.is(env.QUERY_STRING, 'a=%41');
});

test('header bytes that are not UTF-8 stay byte strings (one char per byte), as HTTP keeps them', () => {
  const json = Buffer.concat([Buffer.from('{"METHOD":"GET","PATH":"/\xc3\xa9","x-latin":"caf', 'latin1'), Buffer.from([0xe9]), Buffer.from('","x-utf8":"'), Buffer.from('\u00e9'), Buffer.from('"}')]);
  const message = Buffer.concat([Buffer.from(`${UUID} 4 / ${json.length}:`), json, Buffer.from(',0:,')]);
  const { status, env } = read(message);
  assert.is(status, REQUEST, reader.why);
  assert.is(env.HTTP_X_LATIN, 'caf\u00e9');
  assert.is(env.HTTP_X_UTF8, '\u00c3\u00a9');
  assert.is(env.PATH_INFO, '/\u00c3\u00a9');
});

const malformed: Array<[string, string | Buffer, RegExp]> = [
  ['no spaces', 'hello', /expected "UUID ID PATH/],
  ['only two fields', `${UUID} 1`, /expected/],
  ['empty uuid', ' 1 / 2:{},0:,', /empty sender/],
  ['empty conn id', `${UUID}  / 2:{},0:,`, /empty sender/],
  ['comma in conn id', `${UUID} 1,2 / 2:{},0:,`, /contains a comma/],
  ['headers not a netstring', `${UUID} 1 / {"PATH":"/"}`, /HEADERS is not a netstring/],
  ['netstring length past the end', `${UUID} 1 / 99:{},0:,`, /HEADERS is not a netstring/],
  ['ten length digits', `${UUID} 1 / 0000000002:{},0:,`, /HEADERS is not a netstring/],
  ['bad headers terminator', `${UUID} 1 / 2:{}]0:,`, /expected "," \(JSON\) or "}"/],
  ['bad JSON', `${UUID} 1 / 5:{bad},0:,`, /not a JSON object/],
  ['JSON array', `${UUID} 1 / 2:[],0:,`, /not a JSON object/],
  ['tnetstring non-string key', `${UUID} 1 / 8:1:1#1:a,}0:,`, /not a tnetstring dict/],
  ['tnetstring bad value type', `${UUID} 1 / 8:1:a,1:b@}0:,`, /not a tnetstring dict/],
  ['no METHOD', `${UUID} 1 / 12:{"PATH":"/"},0:,`, /no METHOD/],
  ['body terminator', `${UUID} 1 / 14:{"METHOD":"G"},0:}`, /BODY does not end/],
  ['bytes after the body', `${UUID} 1 / 14:{"METHOD":"G"},0:,xx`, /2 stray bytes/],
  ['content-length without body', `${UUID} 1 / 38:{"METHOD":"POST","content-length":"3"},`, /no BODY netstring/],
];

for (const [name, message, why] of malformed) {
  test(`malformed: ${name}`, () => {
    assert.is(read(message).status, INVALID);
    assert.match(reader.why, why);
  });
}

test('every truncation and every single-byte change of a request is handled without throwing', () => {
  for (const format of ['json', 'tnetstring'] as const) {
    const message = encodeMongrel2Request(UUID, '9', '/echo?a=b', { method: 'POST', body: 'data', headers: { accept: ['x', 'y'] }, format });
    for (let end = 0; end < message.length; end++) {
      const status = read(message.subarray(0, end)).status;
      assert.ok(status === INVALID || status === REQUEST, `cut at ${end}: status ${status}`);
    }
    for (let i = 0; i < message.length; i++) {
      for (const byte of [0x20, 0x3a, 0x2c, 0x7d, 0x30, 0x00]) {
        const changed = Buffer.from(message);
        changed[i] = byte;
        read(changed);
      }
    }
  }
});

test('response frames: one id, several ids, head + body, the empty close message', () => {
  const one = responsePrefix(UUID, '42');
  assert.is(one.toString(), `${UUID} 2:42, `);
  const many = responsePrefix(UUID, ['1', '22', '333']);
  assert.is(many.toString(), `${UUID} 8:1 22 333, `);
  const message = encodeResponse(one, 'HTTP/1.1 200 OK\r\n\r\n', 'héllo');
  assert.is(message.toString(), `${UUID} 2:42, HTTP/1.1 200 OK\r\n\r\nhéllo`);
  assert.is(encodeResponse(one, '').toString(), `${UUID} 2:42, `);
  assert.is(encodeResponse(one, '', Buffer.from('0123456789'), 2, 5).toString(), `${UUID} 2:42, 234`);
  const frame = parseResponse(encodeResponse(many, '', 'x'));
  assert.equal(frame.connIds, ['1', '22', '333']);
  assert.is(frame.sender, UUID);
  assert.is(frame.body.toString(), 'x');
  const close = parseResponse(Buffer.from(`${UUID} 1:7, `));
  assert.equal(close.connIds, ['7']);
  assert.is(close.body.length, 0);
});

test('malformed response frames throw TSGI_ERR_ZMQ_MESSAGE', () => {
  for (const bad of ['', 'nospace', `${UUID} 2:42 x`, `${UUID} 3:42, x`, `${UUID} 2:42,x`, `${UUID} x:42, y`, `${UUID} 3:1  , x`]) {
    try {
      parseResponse(Buffer.from(bad));
      assert.unreachable(`${JSON.stringify(bad)} parsed`);
    } catch (error) {
      assert.ok(isTsgiError(error, 'TSGI_ERR_ZMQ_MESSAGE'), `${JSON.stringify(bad)}: ${(error as Error).message}`);
    }
  }
});

test('keep-alive: the request asks for it and the response has Content-Length without Connection: close', () => {
  assert.ok(requestKeepAlive({ SERVER_PROTOCOL: 'HTTP/1.1' }));
  assert.not.ok(requestKeepAlive({ SERVER_PROTOCOL: 'HTTP/1.1', HTTP_CONNECTION: 'Close' }));
  assert.not.ok(requestKeepAlive({ SERVER_PROTOCOL: 'HTTP/1.0' }));
  assert.ok(requestKeepAlive({ SERVER_PROTOCOL: 'HTTP/1.0', HTTP_CONNECTION: 'Keep-Alive' }));
  assert.ok(responseKeepsAlive([['Content-Type', 'text/plain'], ['Content-Length', '11']]));
  assert.not.ok(responseKeepsAlive([['Content-Type', 'text/plain']]));
  assert.not.ok(responseKeepsAlive([['content-length', '1'], ['Connection', 'close']]));
});

test('--zmq PULL,PUB', () => {
  assert.equal(parseZmqSpec('tcp://127.0.0.1:9997,tcp://127.0.0.1:9996'), { pull: 'tcp://127.0.0.1:9997', pub: 'tcp://127.0.0.1:9996' });
  assert.equal(parseZmqSpec('ipc:///tmp/a,ipc:///tmp/b'), { pull: 'ipc:///tmp/a', pub: 'ipc:///tmp/b' });
  for (const bad of ['tcp://127.0.0.1:9997', 'a,b', 'tcp://x:1,tcp://y:2,tcp://z:3', ',tcp://x:1']) {
    try {
      parseZmqSpec(bad);
      assert.unreachable(bad);
    } catch (error) {
      assert.ok(isTsgiError(error, 'TSGI_ERR_ZMQ_ADDRESS'), bad);
    }
  }
});

test.run();
