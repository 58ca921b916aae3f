/**
 * The seed's "config, config and config" slide for real: one instance configured five ways
 * (xml, ini, yaml, sqlite3, json), each serving a real app on an abstract socket with 4
 * workers; the same config from stdin and from exec://; --show-config and --dry-run; bad input
 * exiting 1 with one message.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { abstractPath } from '../../runtime/address.js';
import { native } from '../../runtime/native.js';
import { ROOT, runTsgi, sleep, startTsgi, tempDir, type Server } from '../helpers/tsgi.js';
import { encodeUwsgiPacket, nginxLikeVars, parseRawHttpResponse, type RawHttpResponse } from '../helpers/uwsgi-client.js';

const SEED = join(ROOT, 'test/config/seed');
const SEED_FILES = ['app.xml', 'app.ini', 'app.yaml', 'app.db', 'app.json'];
const ALL_READY = /all 4 workers ready/;
/** Each worker logs its own ready line; the master may report them all before the last is flushed. */
const FOUR_READY = /(?:ready \(pid \d+\)[\s\S]*){4}/;

/** Starts tsgi (with `input` on its standard input) and waits for the master and the 4 workers to say they are ready. */
async function startFour(args: string[], cwd: string, input?: Buffer): Promise<Server> {
  const server = await startTsgi(args, { cwd, ready: ALL_READY, timeoutMs: 30_000, input });
  await server.waitFor(FOUR_READY);
  return server;
}

interface SqlJs {
  Database: new (data?: Uint8Array) => { run(sql: string, params?: unknown[]): void; export(): Uint8Array; close(): void };
}
const sqlJs = (createRequire(import.meta.url)('sql.js') as () => Promise<SqlJs>)();

/** A copy of the seed folder whose five configs bind `@name` instead of `@foobar`. */
async function seedCopy(name: string): Promise<string> {
  const dir = tempDir();
  cpSync(SEED, dir, { recursive: true });
  for (const file of SEED_FILES.filter((f) => f !== 'app.db')) {
    writeFileSync(join(dir, file), readFileSync(join(dir, file), 'utf8').replace('@foobar', `@${name}`));
  }
  const db = new (await sqlJs).Database(readFileSync(join(dir, 'app.db')));
  db.run("UPDATE uwsgi SET value = ? WHERE key = 'socket'", [`@${name}`]);
  writeFileSync(join(dir, 'app.db'), db.export());
  db.close();
  return dir;
}

/** One uwsgi request to the abstract socket `@name` (uWSGI's exact address bytes). */
function ask(name: string): Promise<RawHttpResponse> {
  return new Promise((resolve, reject) => {
    const socket = new Socket({ fd: native.connectUnix(abstractPath(name)), readable: true, writable: true });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(parseRawHttpResponse(Buffer.concat(chunks))));
    socket.write(encodeUwsgiPacket(nginxLikeVars('GET', '/')));
  });
}

/** Checks a started server: 4 workers, the pinax app answering from its chdir. */
async function assertServesPinax(server: Server, name: string, dir: string): Promise<void> {
  const ready = server.log().match(/ready \(pid \d+\)/g) ?? [];
  assert.is(ready.length, 4, `4 workers:\n${server.log()}`);
  const pids = new Set<string>();
  for (let i = 0; i < 8; i++) {
    const response = await ask(name);
    assert.is(response.status, 200);
    const [app, pid, cwd] = response.body.toString().trim().split(' ');
    assert.is(app, 'pinax');
    assert.is(cwd, join(dir, 'pinax'), 'chdir = %dpinax');
    pids.add(pid!);
  }
  assert.ok(pids.size >= 1);
}

/** `[uwsgi]` and the five options of the slide, as --show-config prints them. */
function shownSeed(dir: string, name: string): string {
  return `[uwsgi]\nsocket = @${name}\nwsgi-file = pinax.js\nchdir = ${join(dir, 'pinax')}\nmaster = true\nprocesses = 4\n`;
}

for (const file of SEED_FILES) {
  test(`the seed's ${file.split('.')[1]} config serves on an abstract socket with 4 workers, printing --show-config once`, async () => {
    const name = `tsgi-seed-${process.pid}-${file.replace('.', '-')}`;
    const dir = await seedCopy(name);
    const server = await startFour([join(dir, file), '--show-config'], dir);
    try {
      await assertServesPinax(server, name, dir);
      const log = server.log();
      assert.ok(log.includes(shownSeed(dir, name)), log);
      assert.is(log.split('[uwsgi]').length, 2, 'printed once, by the master');
    } finally {
      assert.is(await server.stop(), 0);
    }
  });
}

test('the seed exactly as on the slide: tsgi app.ini answers on @foobar', async () => {
  let server: Server | undefined;
  for (let attempt = 0; !server; attempt++) {
    try {
      server = await startFour([join(SEED, 'app.ini')], SEED);
    } catch (error) {
      // Another checkout's test run may hold @foobar for a moment: the abstract namespace is per host.
      if (attempt >= 5 || !/EADDRINUSE/.test(String(error))) throw error;
      await sleep(1000);
    }
  }
  try {
    await assertServesPinax(server, 'foobar', SEED);
  } finally {
    assert.is(await server.stop(), 0);
  }
});

test('--dry-run: the five seed configs print the identical configuration and exit 0 without serving', async () => {
  const outputs = await Promise.all(SEED_FILES.map((file) => runTsgi([join(SEED, file), '--dry-run'])));
  for (const [i, result] of outputs.entries()) {
    assert.is(result.code, 0, `${SEED_FILES[i]}: ${result.output}`);
    assert.is(result.output, shownSeed(SEED, 'foobar'), SEED_FILES[i]);
  }
});

test('config from a pipe: tsgi --ini - < app.ini, and tsgi --sqlite3 - < app.db', async () => {
  for (const [option, file] of [['--ini', 'app.ini'], ['--sqlite3', 'app.db']] as const) {
    const name = `tsgi-stdin-${process.pid}-${file.replace('.', '-')}`;
    const dir = await seedCopy(name);
    // A pipe has no directory of its own: %d is the working directory.
    const server = await startFour([option, '-'], dir, readFileSync(join(dir, file)));
    try {
      const response = await ask(name);
      assert.is(response.status, 200);
      assert.match(response.body.toString(), /^pinax \d+ /);
      assert.is((server.log().match(/ready \(pid/g) ?? []).length, 4);
    } finally {
      assert.is(await server.stop(), 0);
    }
  }
});

test('config from a command: --ini exec://cat app.ini and a bare exec:// yaml', async () => {
  const name = `tsgi-exec-${process.pid}`;
  const dir = await seedCopy(name);
  const server = await startFour(['--ini', `exec://cat ${join(dir, 'app.ini')}`], dir);
  try {
    await assertServesPinax(server, name, dir);
  } finally {
    assert.is(await server.stop(), 0);
  }
  const yaml = await runTsgi(['--yaml', `exec://sed s/foobar/piped/ ${join(SEED, 'app.yaml')}`, '--dry-run'], { cwd: SEED });
  assert.is(yaml.code, 0, yaml.output);
  assert.match(yaml.output, /^socket = @piped$/m);
});

test('bad input exits 1 with one message naming the file, the line and the option', async () => {
  const dir = tempDir();
  const files: Record<string, string> = {
    'syntax.xml': '<uwsgi>\n<socket>@x</socket>\n<master>\n</uwsgi>\n',
    'unknown.ini': '[uwsgi]\nsocket = @x\nwsgi-file = app.js\nproceses = 4\n',
    'value.yaml': 'uwsgi:\n  socket: "@x"\n  processes: four\n',
    'loop.ini': '[uwsgi]\ninclude = loop.json\n',
    'loop.json': '{"include": "loop.ini"}',
    'placeholder.json': "{\n  'socket': '@%(name)',\n  'wsgi-file': 'app.js'\n}\n",
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const expected: Array<[string[], RegExp]> = [
    [['syntax.xml'], /^tsgi: syntax\.xml:4: xml syntax error: .*'master'/],
    [['unknown.ini'], /^tsgi: unknown option --proceses in unknown\.ini:4 \(did you mean --processes\?\)$/],
    [['--yaml', 'value.yaml'], /^tsgi: bad value for --processes \(value\.yaml:3\): "four": expected a whole number$/],
    [['loop.ini'], /^tsgi: include loop: loop\.ini → loop\.json → loop\.ini \(at loop\.json:1, --include\)$/],
    [['placeholder.json'], /^tsgi: undefined placeholder %\(name\) in placeholder\.json:2 \(--socket\)/],
    [['missing.ini'], /^tsgi: cannot read config missing\.ini: no such file \(.*\/missing\.ini\)$/],
  ];
  for (const [args, pattern] of expected) {
    const result = await runTsgi(args, { cwd: dir });
    assert.is(result.code, 1, `${args.join(' ')}: ${result.output}`);
    assert.is(result.output.trimEnd().split('\n').length, 1, `one line: ${result.output}`);
    assert.match(result.output.trimEnd(), pattern);
  }
});

test('a file with several bad lines exits 1 listing them all at once, one line each with file:line', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'bad.ini'), '[uwsgi]\nsocket = @x\nmodule myapp\nproceses = 4\nlisten = lots\n');
  const result = await runTsgi(['bad.ini'], { cwd: dir });
  assert.is(result.code, 1, result.output);
  // Syntax comes first: a file that does not parse is not applied, so only its syntax errors show.
  assert.equal(result.output.trimEnd().split('\n'), ['tsgi: bad.ini:3: expected key = value, got "module myapp" (write it as "module = myapp")']);
  writeFileSync(join(dir, 'bad.ini'), '[uwsgi]\nsocket = @x\nmodule = myapp\nproceses = 4\nlisten = lots\n');
  const values = await runTsgi(['bad.ini'], { cwd: dir });
  assert.is(values.code, 1, values.output);
  assert.equal(values.output.trimEnd().split('\n'), [
    'tsgi: 2 errors in the configuration: fix each line below, then run again',
    '  unknown option --proceses in bad.ini:4 (did you mean --processes?)',
    '  bad value for --listen (bad.ini:5): "lots": expected a whole number',
  ]);
});

test.run();
