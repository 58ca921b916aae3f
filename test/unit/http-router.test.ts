/**
 * The HTTP router's pure parts: the chunked decoder (fed whole and split at every byte), the
 * uwsgi packet it builds (header bytes and var order), the round robin that skips failed
 * nodes, and the reading of a node's response head.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ChunkedDecoder, ChunkedResult } from '../../runtime/protocols/chunked-decoder.js';
import { buildPacket, type PacketSettings } from '../../runtime/routers/http/packet.js';
import { FAILED_NODE_GRACE_MS, RoundRobinNodes } from '../../runtime/routers/http/node-picker.js';
import { headEnd, readResponseHead } from '../../runtime/routers/http/response-head.js';
import { parseUwsgiPacket } from '../helpers/uwsgi-ws-node.js';

function decode(parts: Buffer[]): { body: string; result: ChunkedResult } {
  const decoder = new ChunkedDecoder();
  let body = '';
  let result = ChunkedResult.More;
  for (const part of parts) {
    result = decoder.feed(part, (data) => (body += data.toString('latin1')));
    if (result !== ChunkedResult.More) break;
  }
  return { body, result };
}

test('chunked decoder: whole, and split at every byte boundary, with an extension and a trailer', () => {
  const wire = Buffer.from('5;name=x\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n');
  assert.equal(decode([wire]), { body: 'hello 0123456789', result: ChunkedResult.Done });
  for (let cut = 1; cut < wire.length; cut++) {
    assert.equal(decode([wire.subarray(0, cut), wire.subarray(cut)]), { body: 'hello 0123456789', result: ChunkedResult.Done }, `cut at ${cut}`);
  }
  assert.equal(decode(Array.from(wire, (byte) => Buffer.from([byte]))).body, 'hello 0123456789');
});

test('chunked decoder: a bad size or a missing CRLF after the data is Invalid', () => {
  assert.is(decode([Buffer.from('zz\r\n')]).result, ChunkedResult.Invalid);
  assert.is(decode([Buffer.from('3\r\nabcX')]).result, ChunkedResult.Invalid);
  assert.is(decode([Buffer.from('3\r\nab')]).result, ChunkedResult.More);
});

const SETTINGS: PacketSettings = { modifier1: 5, modifier2: 7, serverName: 'box', hostAsServerName: false, serverPort: '9090', extraVars: ['K', 'v'], underscores: false };

test('packet: header bytes are modifier1, u16le size, modifier2; vars in spec order; underscored headers dropped', () => {
  const { packet, host } = buildPacket({ method: 'GET', target: '/a%2Fb?q', major: 1, minor: 1, headers: ['Host', 'h:1', 'X_Spoof', 'no', 'Cookie', 'a', 'Cookie', 'b'], remoteAddress: '10.0.0.1', remotePort: '5000' }, SETTINGS);
  assert.is(host, 'h:1');
  assert.is(packet![0], 5);
  assert.is(packet![3], 7);
  assert.is(packet!.readUInt16LE(1), packet!.length - 4);
  const parsed = parseUwsgiPacket(packet!)!;
  assert.equal(parsed.vars, [
    ['REQUEST_METHOD', 'GET'], ['PATH_INFO', '/a/b'], ['REQUEST_URI', '/a%2Fb?q'], ['QUERY_STRING', 'q'], ['SERVER_PROTOCOL', 'HTTP/1.1'],
    ['SCRIPT_NAME', ''], ['SERVER_NAME', 'box'], ['SERVER_PORT', '9090'], ['UWSGI_ROUTER', 'http'], ['REMOTE_ADDR', '10.0.0.1'], ['REMOTE_PORT', '5000'],
    ['HTTP_HOST', 'h:1'], ['HTTP_COOKIE', 'a, b'], ['K', 'v'],
  ]);
});

test('packet: two Host headers build no packet; --http-server-name-as-http-host takes the Host without its port', () => {
  assert.is(buildPacket({ method: 'GET', target: '/', major: 1, minor: 1, headers: ['Host', 'a', 'host', 'b'], remoteAddress: '', remotePort: '' }, SETTINGS).packet, null);
  const { packet } = buildPacket({ method: 'GET', target: '/', major: 1, minor: 1, headers: ['Host', 'example.com:8080'], remoteAddress: '', remotePort: '' }, { ...SETTINGS, hostAsServerName: true });
  assert.equal(parseUwsgiPacket(packet!)!.vars[6], ['SERVER_NAME', 'example.com']);
});

test('round robin: strict order, a failed node skipped for the grace time, all failed: tried anyway', () => {
  let now = 1_000_000;
  const nodes = new RoundRobinNodes(['a', 'b', 'c'], () => now);
  assert.equal([nodes.pick(''), nodes.pick(''), nodes.pick(''), nodes.pick('')], ['a', 'b', 'c', 'a']);
  nodes.markFailed('b');
  assert.equal([nodes.pick(''), nodes.pick(''), nodes.pick('')], ['c', 'a', 'c']);
  now += FAILED_NODE_GRACE_MS;
  assert.equal([nodes.pick(''), nodes.pick('')], ['a', 'b']);
  for (const node of ['a', 'b', 'c']) nodes.markFailed(node);
  assert.ok(['a', 'b', 'c'].includes(nodes.pick('')!));
  assert.is(new RoundRobinNodes([]).pick(''), undefined);
});

test('response head: status, version, Content-Length, chunked, close', () => {
  const bytes = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\nHello World');
  const end = headEnd(bytes);
  assert.is(end, bytes.length - 11);
  assert.equal(readResponseHead(bytes, end), { length: end, status: 200, http11: true, contentLength: 11, chunked: false, close: true });
  const chunked = Buffer.from('HTTP/1.0 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n');
  assert.equal(readResponseHead(chunked, headEnd(chunked)), { length: chunked.length, status: 404, http11: false, contentLength: -1, chunked: true, close: false });
  assert.is(readResponseHead(Buffer.from('garbage\r\n\r\n'), 11), null);
  assert.is(headEnd(Buffer.from('HTTP/1.1 200 OK\r\n')), -1);
});

test.run();
