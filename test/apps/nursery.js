// Reports this process's V8 nursery (new space) after churning objects that survive scavenges,
// which makes V8 grow it up to its cap: test/integration/heap.test.ts.
import v8 from 'node:v8';

export function application(env, startResponse) {
  const ring = new Array(50_000);
  for (let i = 0; i < 1_000_000; i++) ring[i % ring.length] = { i };
  const nursery = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
  startResponse('200 OK', [['Content-Type', 'application/json']]);
  return JSON.stringify({ pid: process.pid, nurseryBytes: nursery.space_size, execArgv: process.execArgv });
}
