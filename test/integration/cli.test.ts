/** The command line: --help/--version, and every bad input exits 1 with a message that names it. */
import { createServer } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runTsgi } from '../helpers/tsgi.js';
import { pickPort } from '../helpers/ports.js';

test('--help lists every option from the table; --version prints the version', async () => {
  const help = await runTsgi(['--help']);
  assert.is(help.code, 0);
  for (const name of ['--socket', '--http-socket', '--protocol', '--module', '--wsgi-file', '--callable', '--chdir', '--master', '--processes', '--workers', '--async', '--ugreen', '--listen', '--reload-mercy', '--disable-logging', '--pidfile']) {
    assert.ok(help.output.includes(name), `--help mentions ${name}`);
  }
  const version = await runTsgi(['--version']);
  // The node that runs tsgi, whichever supported one (engines: >= 20.19) that is.
  const node = /^tsgi \d+\.\d+\.\d+ \(node (v(\d+)\.(\d+)\.\d+)/.exec(version.output);
  assert.ok(node, version.output);
  assert.is(node[1], process.version);
  const [major, minor] = [Number(node[2]), Number(node[3])];
  assert.ok(major > 20 || (major === 20 && minor >= 19), `node ${node[1]} is a supported version`);
});

test('a config read from standard input: --ini - with the input option', async () => {
  const result = await runTsgi(['--ini', '-', '--dry-run'], { input: '[uwsgi]\nmodule = myapp\nsocket = 127.0.0.1:1\nprocesses = 3\n' });
  assert.is(result.code, 0, result.output);
  assert.match(result.output, /^processes = 3$/m);
  assert.match(result.output, /^module = myapp$/m);
});

test('an unknown option exits 1 with a did-you-mean', async () => {
  const result = await runTsgi(['--proceses', '2']);
  assert.is(result.code, 1);
  assert.match(result.output, /unknown option --proceses \(did you mean --processes\?\)/);
});

test('bad values exit 1 naming the option and the value', async () => {
  const processes = await runTsgi(['--processes', 'abc', '--socket', ':1', '--module', 'myapp']);
  assert.is(processes.code, 1);
  assert.match(processes.output, /--processes.*"abc"/);
  const socket = await runTsgi(['--socket', '1.2.3.4:99999', '--module', 'myapp']);
  assert.is(socket.code, 1);
  assert.match(socket.output, /--socket.*"1\.2\.3\.4:99999".*out of range/);
  const missing = await runTsgi(['--module']);
  assert.match(missing.output, /--module needs a value/);
});

test('a port already in use exits 1 naming the socket, in one line without an internal stack', async () => {
  const port = await pickPort();
  const holder = createServer().listen(port, '127.0.0.1');
  await new Promise((resolve) => holder.once('listening', resolve));
  try {
    const result = await runTsgi(['--socket', `127.0.0.1:${port}`, '--module', 'myapp']);
    assert.is(result.code, 1);
    assert.match(result.output, new RegExp(`cannot bind --socket 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
    assert.not.match(result.output, /^\s+at /m, `no stack trace after the message:\n${result.output}`);
    assert.is(result.output.trimEnd().split('\n').length, 1, `one line:\n${result.output}`);
  } finally {
    holder.close();
  }
});

test('no app, no socket, a missing module: exit 1 with what to do', async () => {
  assert.match((await runTsgi(['--socket', ':1'])).output, /no app: give --module/);
  assert.match((await runTsgi(['--module', 'myapp'])).output, /nothing to listen on/);
  const missing = await runTsgi(['--socket', `127.0.0.1:${await pickPort()}`, '--module', 'nosuchapp']);
  assert.is(missing.code, 1);
  assert.match(missing.output, /TSGI_ERR_APP_NOT_FOUND: cannot find module "nosuchapp"/);
  const noCallable = await runTsgi(['--socket', `127.0.0.1:${await pickPort()}`, '--module', 'myapp:nothere']);
  assert.match(noCallable.output, /no callable "nothere" \(exports: application, async, async2\)/);
});

test.run();
