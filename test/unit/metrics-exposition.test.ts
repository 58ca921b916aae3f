/**
 * The exposition writer and the scoreboard's duration histogram, without processes: label
 * escaping, cumulative buckets, and a request landing in exactly one bucket of its own slot.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Exposition, labelText } from '../../runtime/metrics/exposition.js';
import { DURATION_BUCKETS, Scoreboard, SLOT_BYTES } from '../../runtime/shared/scoreboard.js';

const board = () => {
  const buffer = new ArrayBuffer(SLOT_BYTES * 2);
  return new Scoreboard({ name: 'scoreboard', buffer, byteOffset: 0, byteLength: buffer.byteLength }, 2);
};

test('label values escape backslash, quote and line feed', () => {
  const out = new Exposition(false);
  out.family('tsgi_x', 'gauge', 'x.');
  out.sample('tsgi_x', labelText([['socket', 'a\\b"c\nd']]), 1);
  assert.is(out.text(), '# HELP tsgi_x x.\n# TYPE tsgi_x gauge\ntsgi_x{socket="a\\\\b\\"c\\nd"} 1\n');
});

test('a counter family is named with _total in Prometheus text, without it in OpenMetrics', () => {
  for (const [openMetrics, declared, end] of [[false, 'tsgi_c_total', ''], [true, 'tsgi_c', '# EOF\n']] as const) {
    const out = new Exposition(openMetrics);
    out.family('tsgi_c', 'counter', 'c.');
    out.sample('tsgi_c_total', '', 3);
    assert.is(out.text(), `# HELP ${declared} c.\n# TYPE ${declared} counter\ntsgi_c_total 3\n${end}`);
  }
});

test('each request lands in one bucket of its own slot; readers see cumulative buckets', () => {
  const scoreboard = board();
  const slot = scoreboard.slot(1);
  for (const micros of [500, 3_000, 2_000_000, 20_000_000]) slot.countRequest(micros, 0);
  const { buckets, seconds } = scoreboard.durations(1);
  assert.is(buckets.length, DURATION_BUCKETS.length + 1, 'a count per bound and the overflow');
  assert.equal(buckets, [1, 1, 0, 0, 0, 0, 0, 1, 0, 1]);
  assert.is(seconds, 22.0035);
  assert.equal(scoreboard.durations(2).buckets, new Array(buckets.length).fill(0), 'the next slot is untouched');
  assert.is(scoreboard.read(2).requests, 0);
  const out = new Exposition(false);
  out.histogram('h', labelText([['worker', '1']]), DURATION_BUCKETS, buckets, seconds);
  const lines = out.text().split('\n');
  assert.equal(lines.slice(0, 2), ['h_bucket{worker="1",le="0.001"} 1', 'h_bucket{worker="1",le="0.005"} 2']);
  assert.ok(lines.includes('h_bucket{worker="1",le="5.0"} 3'));
  assert.ok(lines.includes('h_bucket{worker="1",le="+Inf"} 4'));
  assert.ok(lines.includes('h_count{worker="1"} 4'));
});

test.run();
