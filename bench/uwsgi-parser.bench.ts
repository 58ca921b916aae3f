/**
 * Micro-benchmark of the uwsgi request parser on the hot path: a realistic nginx packet
 * (stock uwsgi_params + 5 headers = 18 vars) that arrives in one chunk, parsed into a fresh
 * env object per request as a worker would. Prints the median ns/packet of 5 runs.
 *
 * Run: npx tsc -p . && node dist/bench/uwsgi-parser.bench.js
 */
import { DEFAULT_BUFFER_SIZE, DEFAULT_MAX_PAIRS, DONE, UwsgiRequestReader } from '../runtime/protocols/uwsgi/parser.js';
import { encodeUwsgiPacket, nginxLikeVars } from '../test/helpers/uwsgi-client.js';

const PACKETS_PER_RUN = 1_000_000;
const RUNS = 5;

const vars = nginxLikeVars('GET', '/api/items?page=2&sort=name', {
  headers: [
    ['Host', 'example.com'],
    ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'],
    ['Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'],
    ['Accept-Language', 'en-US,en;q=0.5'],
    ['Accept-Encoding', 'gzip, deflate, br'],
  ],
});
const packet = encodeUwsgiPacket(vars);
const reader = new UwsgiRequestReader(DEFAULT_BUFFER_SIZE, DEFAULT_MAX_PAIRS);

/** @returns ns per packet */
function run(): number {
  let failures = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < PACKETS_PER_RUN; i++) {
    reader.reset({});
    if (reader.push(packet) !== DONE) failures++;
  }
  const elapsed = Number(process.hrtime.bigint() - start);
  if (failures > 0) throw new Error(`${failures} packets did not parse`);
  return elapsed / PACKETS_PER_RUN;
}

run(); // warm-up: let V8 optimise before measuring
const samples = Array.from({ length: RUNS }, run).sort((a, b) => a - b);
const median = samples[Math.floor(RUNS / 2)];
console.log(
  `uwsgi parser: ${vars.length} vars, ${packet.length}-byte packet: ${median.toFixed(0)} ns/packet ` +
    `(median of ${RUNS} x ${PACKETS_PER_RUN}; runs ${samples.map((s) => s.toFixed(0)).join(' ')})`,
);
