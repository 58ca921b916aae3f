/**
 * Which subsystems an instance runs follows from its options: a room nobody asked for (the
 * routers, the cluster, the metrics, the daemons, the FIFO, systemd, the Emperor's pipe) is not
 * loaded at all, and asking for it brings it in, in its place in the start order.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { masterSubsystems, singleProcessSubsystems } from '../../runtime/master/subsystems.js';
import { parseArgv } from '../../runtime/options.js';

const names = async (made: Promise<Array<{ name: string }>>) => (await made).map((subsystem) => subsystem.name);

test('a plain master runs only what every instance needs', async () => {
  assert.equal(await names(masterSubsystems(parseArgv(['--master', '--module', 'app']))), ['jail', 'harakiri', 'workers', 'recycling', 'cheaper', 'spoolers', 'signals', 'stats', 'housekeeping', 'touch', 'logging']);
});

test('each option brings its room in, in start order', async () => {
  const options = parseArgv(['--master', '--module', 'app', '--http', ':8080', '--fastrouter', ':3017', '--fastrouter-to', ':3031', '--subscribe-to', '127.0.0.1:7171:example.com', '--metrics', ':9100', '--cluster', '225.1.1.1:1717', '--attach-daemon', 'sleep 9', '--master-fifo', '/tmp/fifo']);
  assert.equal(await names(masterSubsystems(options)), ['jail', 'master-fifo', 'harakiri', 'workers', 'recycling', 'cheaper', 'spoolers', 'daemons', 'fastrouter', 'http-router', 'subscriptions', 'signals', 'stats', 'cluster', 'metrics', 'housekeeping', 'touch', 'logging']);
});

test('a single process: the in-process worker, and systemd and the Emperor pipe only when their variables are set', async () => {
  const plain = parseArgv(['--module', 'app']);
  assert.equal(await names(singleProcessSubsystems(plain)), ['jail', 'workers', 'signals', 'stats', 'housekeeping', 'logging']);
  process.env.NOTIFY_SOCKET = '/run/systemd/notify';
  process.env.UWSGI_EMPEROR_FD = '3';
  try {
    const found = await names(singleProcessSubsystems(plain));
    assert.equal([found[0], found.at(-1)], ['systemd', 'emperor-pipe']);
  } finally {
    delete process.env.NOTIFY_SOCKET;
    delete process.env.UWSGI_EMPEROR_FD;
  }
});

test.run();
