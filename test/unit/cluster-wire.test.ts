/** The cluster datagrams byte for byte (spec wire.md §12), and what a receiver refuses. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CLUSTER_MODIFIER, decodeAnnouncement, decodeMessage, decodePairs, encodeAnnouncement, encodeMessage, encodePairs, MalformedDatagram } from '../../runtime/cluster/wire.js';
import { parseClusterAddress } from '../../runtime/cluster/socket.js';

test('an announcement is [95, u16le size, 0] and a dict of hostname, address, workers, requests', () => {
  const datagram = encodeAnnouncement({ hostname: 'n1', address: '10.0.0.1:3031', workers: 4, requests: 17 });
  const dict = Buffer.concat([
    Buffer.from([8, 0]), Buffer.from('hostname'), Buffer.from([2, 0]), Buffer.from('n1'),
    Buffer.from([7, 0]), Buffer.from('address'), Buffer.from([13, 0]), Buffer.from('10.0.0.1:3031'),
    Buffer.from([7, 0]), Buffer.from('workers'), Buffer.from([1, 0]), Buffer.from('4'),
    Buffer.from([8, 0]), Buffer.from('requests'), Buffer.from([2, 0]), Buffer.from('17'),
  ]);
  assert.equal(datagram, Buffer.concat([Buffer.from([95, dict.length, 0, 0]), dict]));
  assert.equal(decodeAnnouncement(decodeMessage(datagram).payload), { hostname: 'n1', address: '10.0.0.1:3031', workers: 4, requests: 17 });
});

test('a reload and a config request are bare headers; the config reply keeps repeated keys and empty values', () => {
  assert.equal(encodeMessage(CLUSTER_MODIFIER.reload, 0), Buffer.from([98, 0, 0, 0]));
  assert.equal(encodeMessage(CLUSTER_MODIFIER.config, 0), Buffer.from([99, 0, 0, 0]));
  const pairs: Array<[string, string]> = [['socket', ':3031'], ['socket', ':3032'], ['master', '1'], ['env', '']];
  const reply = decodeMessage(encodeMessage(CLUSTER_MODIFIER.config, 1, encodePairs(pairs)));
  assert.is(reply.modifier2, 1);
  assert.equal(decodePairs(reply.payload), pairs);
});

test('a datagram whose size disagrees with its header, or a dict that runs past its end, is refused', () => {
  assert.throws(() => decodeMessage(Buffer.from([95, 9, 0, 0, 1])), (e: Error) => e instanceof MalformedDatagram && /header says 9/.test(e.message));
  assert.throws(() => decodeMessage(Buffer.from([95, 0])), (e: Error) => e instanceof MalformedDatagram);
  assert.throws(() => decodePairs(Buffer.from([5, 0, 0x61])), /runs past/);
  assert.throws(() => decodeAnnouncement(encodePairs([['hostname', 'x']])), /without hostname or address/);
});

test('a cluster address is a multicast group and port, or :port for broadcast', () => {
  assert.equal(parseClusterAddress('225.1.1.1:1717', 'cluster'), { group: '225.1.1.1', port: 1717, text: '225.1.1.1:1717' });
  assert.equal(parseClusterAddress(':1717', 'cluster').group, null);
  assert.throws(() => parseClusterAddress('10.0.0.1:1717', 'cluster'), /--cluster 10\.0\.0\.1:1717: 10\.0\.0\.1 is not an IPv4 multicast group/);
  assert.throws(() => parseClusterAddress('225.1.1.1', 'cluster-reload'), /--cluster-reload 225\.1\.1\.1: expected GROUP:PORT/);
});

test.run();
