/**
 * The daemon options as parsed where they are set (runtime/daemons/spec.ts): attach-daemon2's
 * keys and uWSGI's aliases, signals by number or name, the keys tsgi does not build refused,
 * and a bad value reported with its option, file and line.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { attachDaemon2, daemonSpecs, signalNamed, smartAttachDaemon } from '../../runtime/daemons/spec.js';
import { parseArgv } from '../../runtime/options.js';

function failure(argv: string[]): string {
  try {
    parseArgv(argv);
  } catch (error) {
    return `${(error as { code: string }).code}: ${(error as Error).message}`;
  }
  return 'none';
}

test('attach-daemon2: keys, uWSGI aliases, signals by number or name, touch files split at ;, escaped commas', () => {
  assert.equal(attachDaemon2('command=run\\, then stop,stop_signal=2,reload_signal=HUP,touch=/a;/b'), {
    cmd: 'run, then stop', daemonize: false, stopSignal: 'SIGINT', reloadSignal: 'SIGHUP', touch: ['/a', '/b'], freq: 10,
  });
  assert.equal(attachDaemon2('exec=x,pidfile=/p,freq=3,daemonize=1,stopsignal=sigusr1'), {
    cmd: 'x', pidfile: '/p', daemonize: true, stopSignal: 'SIGUSR1', touch: [], freq: 3,
  });
  assert.is(signalNamed('15'), 'SIGTERM');
  assert.is(signalNamed('term'), 'SIGTERM');
});

test('attach-daemon2 refuses what it cannot honour, saying why', () => {
  assert.throws(() => attachDaemon2('pidfile=/p'), /needs a cmd key/);
  assert.throws(() => attachDaemon2('cmd=x,uid=33,chdir=/srv'), /^uid, chdir: not built in tsgi \(it builds cmd, pidfile, freq, daemonize, touch, stopsignal, reloadsignal\)$/);
  assert.throws(() => attachDaemon2('cmd=x,colour=red'), /unknown key "colour"/);
  assert.throws(() => attachDaemon2('cmd=x,stopsignal=99'), /no signal has number 99/);
  assert.throws(() => attachDaemon2('cmd=x,stopsignal=SIGNOPE'), /unknown signal "SIGNOPE"/);
  assert.throws(() => attachDaemon2('cmd=x,freq=5'), /without pidfile= the growing back-off governs/);
  assert.throws(() => attachDaemon2('cmd=x,daemonize=1'), /daemonize needs a pidfile/);
  assert.throws(() => attachDaemon2('cmd=x,justaword'), /"justaword" is not key=value/);
});

test('smart-attach-daemon: PIDFILE[,FREQ] CMD split at the first space', () => {
  assert.equal(smartAttachDaemon('/run/m.pid,5 memcached -d -P /run/m.pid'), {
    cmd: 'memcached -d -P /run/m.pid', pidfile: '/run/m.pid', daemonize: false, stopSignal: 'SIGTERM', touch: [], freq: 5,
  });
  assert.is(smartAttachDaemon('/p cmd', true).daemonize, true);
  assert.throws(() => smartAttachDaemon('/run/m.pid'), /expected "PIDFILE CMD"/);
});

test('every daemon option, numbered in one order; a bad value names its option, file and line', () => {
  const options = parseArgv(['--attach-daemon', 'a', '--smart-attach-daemon2', '/p2 d', '--attach-daemon2', 'cmd=b', '--smart-attach-daemon', '/p c']);
  assert.equal(daemonSpecs(options).map((spec) => spec.cmd), ['a', 'b', 'c', 'd']);
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-daemons-'));
  writeFileSync(join(dir, 'app.ini'), '[uwsgi]\nmaster = true\nattach-daemon2 = cmd=x,gid=33\n');
  assert.match(failure([join(dir, 'app.ini')]), /^TSGI_ERR_OPT_VALUE: bad value for --attach-daemon2 \(.*app\.ini:3\): "cmd=x,gid=33": gid: not built in tsgi/);
  assert.match(failure(['--smart-attach-daemon', 'nospace']), /^TSGI_ERR_OPT_VALUE: bad value for --smart-attach-daemon \(command line\): "nospace": expected "PIDFILE CMD"/);
});

test.run();
