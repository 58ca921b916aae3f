/**
 * Subscription packets (modifier1 224) byte for byte, the --subscribe-to / --subscribe2
 * syntax, and the FastRouter's routing-key reader.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { routingKey } from '../../runtime/routers/fastrouter/head.js';
import { BadPacket, encodeSubscription, parseSubscription } from '../../runtime/routers/subscription/packet.js';
import { parseSubscribe2, parseSubscribeTo } from '../../runtime/routers/subscription/spec.js';
import { encodeUwsgiPacket, encodeVars } from '../helpers/uwsgi-client.js';

test('a subscribe packet is [224, len LE, 0] + key, address, modifier1, modifier2, cores, load, weight', () => {
  const packet = encodeSubscription({ key: 'example.com', address: '127.0.0.1:3031', modifier1: 5, modifier2: 0, cores: 8, load: 0, weight: 2 }, false);
  const dict = encodeVars([['key', 'example.com'], ['address', '127.0.0.1:3031'], ['modifier1', '5'], ['modifier2', '0'], ['cores', '8'], ['load', '0'], ['weight', '2']]);
  assert.equal([...packet.subarray(0, 4)], [224, dict.length & 0xff, dict.length >> 8, 0]);
  assert.ok(packet.subarray(4).equals(dict));
  assert.is(encodeSubscription({ key: 'k', address: 'a', modifier1: 0, modifier2: 0, cores: 1, load: 0, weight: 1 }, true)[3], 1);
});

test('parsing: numbers are atoi-like, weight 0 is 1, any non-zero modifier2 unsubscribes', () => {
  const header = (dict: Buffer, cmd: number) => Buffer.concat([Buffer.from([224, dict.length & 0xff, dict.length >> 8, cmd]), dict]);
  const s = parseSubscription(header(encodeVars([['key', 'a.b'], ['address', '/tmp/x.sock'], ['modifier1', '30x'], ['weight', '0']]), 7));
  assert.equal(s, { unsubscribe: true, key: 'a.b', address: '/tmp/x.sock', modifier1: 30, modifier2: 0, cores: 0, load: 0, weight: 1 });
  for (const bad of [Buffer.from([224, 0]), header(encodeVars([['address', 'x']]), 0), header(encodeVars([['key', 'k']]), 0), Buffer.from([224, 10, 0, 0, 1, 0])]) {
    assert.throws(() => parseSubscription(bad), (error: unknown) => error instanceof BadPacket);
  }
});

test('--subscribe-to: [ADDR=]SERVER:KEY[,MODIFIER1], the key may hold colons', () => {
  assert.equal(parseSubscribeTo('192.168.173.20:1717:unbit.it'), { server: '192.168.173.20:1717', key: 'unbit.it', address: undefined, socket: 0, modifier1: 0, modifier2: 0 });
  const spec = parseSubscribeTo('127.0.0.1:4000=127.0.0.1:1717:example.com:8080,5');
  assert.is(spec.address, '127.0.0.1:4000');
  assert.is(spec.key, 'example.com:8080');
  assert.is(spec.modifier1, 5);
  assert.throws(() => parseSubscribeTo('/tmp/sub.sock:key'), /UDP/);
  assert.throws(() => parseSubscribeTo('127.0.0.1:1717:'), /empty/);
  const two = parseSubscribe2('server=127.0.0.1:1717,key=k.org,weight=3,modifier1=7,addr=10.0.0.1:3031');
  assert.equal([two.server, two.key, two.weight, two.modifier1, two.address], ['127.0.0.1:1717', 'k.org', 3, 7, '10.0.0.1:3031']);
  assert.throws(() => parseSubscribe2('server=127.0.0.1:1717,key=k,colour=red'), /unknown key/);
});

test('routing key: UWSGI_FASTROUTER_KEY, else HTTP_HOST, else SERVER_NAME; malformed blocks are null', () => {
  const key = (vars: Array<[string, string]>) => {
    const packet = encodeUwsgiPacket(vars);
    return routingKey(packet, packet.readUInt16LE(1));
  };
  assert.is(key([['SERVER_NAME', 's'], ['HTTP_HOST', 'h'], ['PATH_INFO', '/']]), 'h');
  assert.is(key([['UWSGI_FASTROUTER_KEY', 'k'], ['HTTP_HOST', 'h']]), 'k');
  assert.is(key([['HTTP_HOST', 'h'], ['UWSGI_FASTROUTER_KEY', 'k']]), 'k');
  assert.is(key([['SERVER_NAME', 's']]), 's');
  assert.is(key([['HTTP_HOST', 'x'.repeat(256)], ['SERVER_NAME', 's']]), 's', 'a value over 255 bytes is no key');
  assert.is(key([['PATH_INFO', '/']]), '');
  const broken = Buffer.from([0, 6, 0, 0, 0, 0, 1, 0, 65, 0]);
  assert.is(routingKey(broken, 6), null, 'an empty var name');
  assert.is(routingKey(Buffer.from([0, 4, 0, 0, 9, 0, 65, 65]), 4), null, 'a name past the end');
});

test.run();
