/**
 * Configuration from ini, xml, yaml, json and sqlite3 files, pipes and the command line: one
 * option table, the loaders' own rules, magic variables and placeholders, includes, precedence,
 * every bad input with its file and line, and the --show-config round trip.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderIni } from '../../runtime/config/show.js';
import { parseArgv, type Options } from '../../runtime/options.js';
import { ROOT, tempDir } from '../helpers/tsgi.js';

const SEED = join(ROOT, 'test/config/seed');
const SEED_FILES = ['app.xml', 'app.ini', 'app.yaml', 'app.db', 'app.json'];

interface SqlJs {
  Database: new (data?: Uint8Array) => { run(sql: string, params?: unknown[]): void; exec(sql: string): Array<{ values: unknown[][] }>; export(): Uint8Array; close(): void };
}
const sqlJs = (createRequire(import.meta.url)('sql.js') as () => Promise<SqlJs>)();

/** Writes `files` (name → text or bytes) into a fresh directory and returns its path. */
function folder(files: Record<string, string | Uint8Array>): string {
  const dir = tempDir();
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

/** A sqlite3 config database holding `rows` in table `uwsgi` (or `table`). */
async function database(rows: Array<[string, string | number | null]>, table = 'uwsgi'): Promise<Uint8Array> {
  const db = new (await sqlJs).Database();
  db.run(`CREATE TABLE ${table} (key TEXT, value TEXT)`);
  for (const row of rows) db.run(`INSERT INTO ${table} VALUES (?, ?)`, row);
  const bytes = db.export();
  db.close();
  return bytes;
}

/** The error `parseArgv(argv)` throws: its code and message. */
function failure(argv: string[]): { code: string; message: string } {
  try {
    parseArgv(argv);
  } catch (error) {
    return { code: (error as { code?: string }).code ?? 'none', message: (error as Error).message };
  }
  throw new Error(`parseArgv(${JSON.stringify(argv)}) did not throw`);
}

function fails(argv: string[], code: string, pattern: RegExp): void {
  const { code: actual, message } = failure(argv);
  assert.is(actual, code, message);
  assert.match(message, pattern);
}

// The seed's five configs.

test('the seed: xml, ini, yaml, sqlite3 and json give the same options and --show-config', () => {
  const shown = SEED_FILES.map((file) => {
    const options = parseArgv([join(SEED, file)]);
    assert.equal(options.socket, ['@foobar'], file);
    assert.is(options['wsgi-file'], 'pinax.js', file);
    assert.is(options.chdir, join(SEED, 'pinax'), `${file}: %d is the file's directory, with a trailing /`);
    assert.is(options.master, true, file);
    assert.is(options.processes, 4, file);
    return renderIni(options);
  });
  for (const text of shown) assert.is(text, shown[0]);
  assert.is(shown[0], `[uwsgi]\nsocket = @foobar\nwsgi-file = pinax.js\nchdir = ${join(SEED, 'pinax')}\nmaster = true\nprocesses = 4\n`);
});

test('the committed seed app.db holds the slide rows |socket|@foobar| … in table uwsgi', async () => {
  const db = new (await sqlJs).Database(readFileSync(join(SEED, 'app.db')));
  assert.equal(db.exec('SELECT key, value FROM uwsgi')[0]!.values, [['socket', '@foobar'], ['wsgi-file', 'pinax.js'], ['chdir', '%dpinax'], ['master', '1'], ['processes', '4']]);
  db.close();
});

test('each format through its own option and by extension: --ini --xml -x --yaml --yml -y --json --js -j --sqlite3 --include', () => {
  const expected = renderIni(parseArgv([join(SEED, 'app.ini')]));
  const forms: string[][] = [
    ['--ini', 'app.ini'], ['--xml', 'app.xml'], ['-x', 'app.xml'], ['--yaml', 'app.yaml'], ['--yml', 'app.yaml'], ['-y', 'app.yaml'],
    ['--json', 'app.json'], ['--js', 'app.json'], ['-j', 'app.json'], ['--sqlite3', 'app.db'], ['--sqlite', 'app.db'], ['--include', 'app.yaml'], ['--config', 'app.xml'],
  ];
  for (const [option, file] of forms) assert.is(renderIni(parseArgv([option!, join(SEED, file!)])), expected, `${option} ${file}`);
});

// ini

test('ini: [uwsgi] by default, file:section for another, repeated keys add values, comments, flags', () => {
  const dir = folder({
    'app.ini': [
      '; a comment', '# another', 'socket = :9', '[uwsgi]', '  socket = 127.0.0.1:3031  ', 'socket=@two', 'master', 'disable-logging = yes',
      '   ; indented comment', 'ugreen = no', '[dev]', 'socket = :8000', 'processes = 2', 'master = false', '[uwsgi]', 'processes = 3',
    ].join('\r\n'),
  });
  const options = parseArgv([join(dir, 'app.ini')]);
  assert.equal(options.socket, ['127.0.0.1:3031', '@two'], 'keys before any section belong to none');
  assert.is(options.master, true, 'a line without = turns a flag on');
  assert.is(options['disable-logging'], true);
  assert.is(options.ugreen, false);
  assert.is(options.processes, 3, 'a section may be reopened');
  const dev = parseArgv([`${join(dir, 'app.ini')}:dev`]);
  assert.equal(dev.socket, [':8000']);
  assert.is(dev.processes, 2);
  assert.is(dev.master, false);
  const reused = parseArgv(['--ini', join(dir, 'app.ini'), '--ini', ':dev']);
  assert.equal(reused.socket, ['127.0.0.1:3031', '@two', ':8000'], '--ini :section reads another section of the last ini file');
});

test('ini: flag words true/false/1/0/yes/no/on/off in any case; anything else is a bad value', () => {
  const words: Array<[string, boolean]> = [['true', true], ['False', false], ['1', true], ['0', false], ['YES', true], ['no', false], ['on', true], ['off', false]];
  for (const [word, value] of words) {
    const dir = folder({ 'a.ini': `[uwsgi]\nmaster = ${word}\n` });
    assert.is(parseArgv([join(dir, 'a.ini')]).master, value, word);
  }
  const dir = folder({ 'a.ini': '[uwsgi]\n\nmaster = maybe\n' });
  fails([join(dir, 'a.ini')], 'TSGI_ERR_OPT_VALUE', /bad value for --master \(.*a\.ini:3\): "maybe"/);
});

test('ini: values are literal (no quotes removed, no inline comments), split at the first =', () => {
  const dir = folder({ 'a.ini': '[uwsgi]\nmodule = "app" ; not a comment\ncallable = a=b\n' });
  const options = parseArgv([join(dir, 'a.ini')]);
  assert.is(options.module, '"app" ; not a comment');
  assert.is(options.callable, 'a=b');
});

// xml

test('xml: <uwsgi> root, <master/> as a flag, repeated elements, text trimmed, comments ignored', () => {
  const dir = folder({
    'a.xml': '<?xml version="1.0"?>\n<!-- the app -->\n<uwsgi>\n  <socket>:3031</socket>\n  <socket> @x </socket>\n  <master/>\n  <ugreen></ugreen>\n  <disable-logging>false</disable-logging>\n  <module>a&amp;b</module>\n</uwsgi>\n',
  });
  const options = parseArgv([join(dir, 'a.xml')]);
  assert.equal(options.socket, [':3031', '@x']);
  assert.is(options.master, true);
  assert.is(options.ugreen, true, 'an empty element is "1"');
  assert.is(options['disable-logging'], false);
  assert.is(options.module, 'a&b');
});

test('xml: file.xml:id picks the <uwsgi id="…"> stanza, and children with another id are skipped', () => {
  const dir = folder({
    'a.xml': '<config>\n<uwsgi id="dev">\n<socket>:8000</socket>\n</uwsgi>\n<uwsgi id="prod">\n<socket>:80</socket>\n<processes id="dev">2</processes>\n<processes id="prod">8</processes>\n</uwsgi>\n</config>\n',
  });
  assert.equal(parseArgv([`${join(dir, 'a.xml')}:dev`]).socket, [':8000']);
  assert.equal(parseArgv([join(dir, 'a.xml')]).socket, [':8000'], 'no id: the first <uwsgi>');
  const prod = parseArgv(['--xml', `${join(dir, 'a.xml')}:prod`]);
  assert.equal(prod.socket, [':80']);
  assert.is(prod.processes, 8);
  fails([`${join(dir, 'a.xml')}:test`], 'TSGI_ERR_CONFIG_SECTION', /a\.xml: invalid xml root element, <uwsgi id="test"> expected \(ids found: dev, prod\)/);
});

test('xml: syntax errors and nested elements name the file and line', () => {
  const dir = folder({ 'bad.xml': '<uwsgi>\n<socket>:1\n</uwsgi>\n', 'nested.xml': '<uwsgi>\n<socket>:1</socket>\n<module><x/></module>\n</uwsgi>\n' });
  fails([join(dir, 'bad.xml')], 'TSGI_ERR_CONFIG_SYNTAX', /bad\.xml:3: xml syntax error: Expected closing tag 'socket'/);
  fails([join(dir, 'nested.xml')], 'TSGI_ERR_OPT_VALUE', /bad value for --module \(.*nested\.xml:3\)/);
});

// yaml

test('yaml: the uwsgi: mapping, socket: @foobar as written, lists for repeated options, quotes, sections', () => {
  const dir = folder({
    'a.yaml': [
      '# comment', 'uwsgi:', '  socket: @foobar', '  http-socket:', '    - :8080', '    - "@web"', "  module: 'app'", '  master: 1', '  ugreen:',
      '  chdir: %d', 'dev:', '  socket: :8000', '  processes: 2',
    ].join('\n'),
  });
  const options = parseArgv([join(dir, 'a.yaml')]);
  assert.equal(options.socket, ['@foobar']);
  assert.equal(options['http-socket'], [':8080', '@web']);
  assert.is(options.module, 'app', 'yaml quotes are removed');
  assert.is(options.master, true);
  assert.is(options.ugreen, true, 'an empty value turns a flag on');
  assert.is(options.chdir, `${dir}/`, 'a value may start with % (a magic variable)');
  const dev = parseArgv([`${join(dir, 'a.yaml')}:dev`]);
  assert.equal(dev.socket, [':8000']);
  assert.is(dev.processes, 2);
});

test('yaml: real syntax errors, a missing mapping and a nested mapping are errors with file and line', () => {
  const dir = folder({
    'bad.yaml': 'uwsgi:\n  socket: :1\n  processes: [2\n',
    'none.yaml': 'app:\n  socket: :1\n',
    'nested.yaml': 'uwsgi:\n  socket: :1\n  module:\n    name: x\n',
  });
  fails([join(dir, 'bad.yaml')], 'TSGI_ERR_CONFIG_SYNTAX', /bad\.yaml:\d+: yaml syntax error/);
  fails([join(dir, 'none.yaml')], 'TSGI_ERR_CONFIG_SECTION', /none\.yaml has no "uwsgi:" mapping/);
  fails([join(dir, 'nested.yaml')], 'TSGI_ERR_OPT_VALUE', /bad value for --module \(.*nested\.yaml:4\): a mapping/);
});

// json

test('json: an object under "uwsgi" or at the top, arrays, true/false/numbers, JSON5 quotes and comments', () => {
  const dir = folder({
    'top.json': "{'socket': ['@a', ':3031'], // the seed quotes with '\n 'master': true, 'ugreen': false, processes: 3,}\n",
    'nested.json': '{"uwsgi": {"socket": "@b", "async": 8}, "dev": {"socket": "@c"}}',
  });
  const top = parseArgv([join(dir, 'top.json')]);
  assert.equal(top.socket, ['@a', ':3031']);
  assert.is(top.master, true);
  assert.is(top.ugreen, false);
  assert.is(top.processes, 3);
  const nested = parseArgv([join(dir, 'nested.json')]);
  assert.equal(nested.socket, ['@b']);
  assert.is(nested.async, 8);
  assert.equal(parseArgv([`${join(dir, 'nested.json')}:dev`]).socket, ['@c']);
  fails([`${join(dir, 'nested.json')}:prod`], 'TSGI_ERR_CONFIG_SECTION', /nested\.json has no "prod" object/);
});

test('json: syntax errors and bad values name the line', () => {
  const dir = folder({
    'bad.json': '{\n  "socket": ":1",\n  "processes": 2 3\n}\n',
    'value.json': '{"uwsgi": {\n  "socket": ":1",\n  "processes": "many"\n}}\n',
    'list.json': "{\n  'socket': [\n    ':1',\n    ':99999'\n  ]\n}\n",
    'app.js': 'export const x = 1;\n',
  });
  fails([join(dir, 'bad.json')], 'TSGI_ERR_CONFIG_SYNTAX', /bad\.json:3: json syntax error: invalid character '3'/);
  fails([join(dir, 'value.json')], 'TSGI_ERR_OPT_VALUE', /bad value for --processes \(.*value\.json:3\): "many"/);
  fails([join(dir, 'list.json')], 'TSGI_ERR_OPT_VALUE', /bad value for --socket \(.*list\.json:4\): ":99999"/);
  fails([join(dir, 'app.js')], 'TSGI_ERR_CONFIG_SYNTAX', /app\.js:1: json syntax error: .*to serve a JS app use --wsgi-file/);
});

// sqlite3

test('sqlite3: rows of (key, value) from SELECT * FROM uwsgi, or the query after file.db:', async () => {
  const dir = folder({
    'a.db': await database([['socket', '@foobar'], ['socket', ':3031'], ['master', 1], ['processes', 4], ['ugreen', null]]),
    'b.db': await database([['socket', '@other'], ['processes', '2']], 'vassal'),
  });
  const options = parseArgv([join(dir, 'a.db')]);
  assert.equal(options.socket, ['@foobar', ':3031']);
  assert.is(options.master, true);
  assert.is(options.processes, 4);
  assert.is(options.ugreen, true, 'NULL is an empty value: a flag turns on');
  const query = parseArgv(['--sqlite3', `${join(dir, 'a.db')}:SELECT key, value FROM uwsgi WHERE key = 'socket' ORDER BY value`]);
  assert.equal(query.socket, [':3031', '@foobar']);
  assert.is(query.processes, 1);
  assert.is(parseArgv(['--sqlite3', `${join(dir, 'b.db')}:SELECT * FROM vassal`]).processes, 2);
});

test('sqlite3: a bad query, a file that is not a database, a bad value (named by row)', async () => {
  const dir = folder({ 'a.db': await database([['socket', ':1'], ['processes', 'lots']]), 'a.ini': '[uwsgi]\n' });
  fails(['--sqlite3', join(dir, 'b.db')], 'TSGI_ERR_CONFIG_READ', /cannot read config .*b\.db: no such file/);
  fails(['--sqlite3', `${join(dir, 'a.db')}:SELECT * FROM nope`], 'TSGI_ERR_CONFIG_SYNTAX', /a\.db: sqlite3 error: no such table: nope/);
  fails(['--sqlite3', join(dir, 'a.ini')], 'TSGI_ERR_CONFIG_SYNTAX', /a\.ini: sqlite3 error: file is not a database/);
  fails([join(dir, 'a.db')], 'TSGI_ERR_OPT_VALUE', /bad value for --processes \(.*a\.db row 2\): "lots"/);
});

// pipes

test('exec://command reads the output of a command; a failing command is an error', () => {
  const options = parseArgv(['--ini', `exec://cat ${join(SEED, 'app.ini')}`]);
  assert.equal(options.socket, ['@foobar']);
  assert.is(options.chdir, `${process.cwd()}/pinax`, '%d of a pipe is the working directory');
  assert.is(parseArgv(['--yaml', `exec://printf 'uwsgi:\\n  processes: 7\\n'`]).processes, 7);
  fails(['--ini', 'exec://exit 3'], 'TSGI_ERR_CONFIG_READ', /cannot read config exec:\/\/exit 3: the command exited with code 3/);
});

// magic variables and placeholders

test('magic variables: %d %n %p %s %e %c %x %o %%', () => {
  const dir = folder({ 'site.ini': '[prod]\nmodule = %n|%s|%e|%c|%x|%o|100%%\nchdir = %d\npidfile = %p\n' });
  const file = join(dir, 'site.ini');
  const options = parseArgv([`${file}:prod`]);
  assert.is(options.module, `site|site.ini|ini|${dir.split('/').at(-1)}|prod|${file}:prod|100%`);
  assert.is(options.chdir, `${dir}/`);
  assert.is(options.pidfile, file);
});

test('placeholders: unknown keys and set-placeholder define variables; %(option); $(ENV); arithmetic', () => {
  process.env.TSGI_TEST_HOST = '127.0.0.1';
  const dir = folder({
    'a.ini': '[uwsgi]\nbase-port = 3030\nsocket = $(TSGI_TEST_HOST):%(base-port + 1)\nhttp-socket = :%(web)\nmodule = %(name)\nprocesses = 2\ncallable = app%(processes)\n',
  });
  const options = parseArgv(['--set-placeholder', 'web=8080', '--set-ph', 'name=first', join(dir, 'a.ini'), '--set-ph', 'name=last']);
  assert.equal(options.socket, ['127.0.0.1:3031']);
  assert.equal(options['http-socket'], [':8080']);
  assert.is(options.module, 'last', 'the last definition of a variable wins, like any single value');
  assert.is(options.callable, 'app2', '%(option) is the option\'s value');
  delete process.env.TSGI_TEST_HOST;
});

test('placeholders on the command line, and placeholders naming a config file to include', () => {
  const dir = folder({ 'dev.ini': '[uwsgi]\nprocesses = 5\n' });
  const options = parseArgv(['--set-ph', `dir=${dir}`, '--set-ph', 'stage=dev', '--ini', '%(dir)/%(stage).ini', '--module', 'app-%(stage)']);
  assert.is(options.processes, 5);
  assert.is(options.module, 'app-dev');
});

test('an undefined placeholder, an unset variable, a loop and an unknown magic variable are errors naming them', () => {
  const dir = folder({
    'undefined.ini': '[uwsgi]\nsocket = :1\nmodule = %(nothing)\n',
    'env.ini': '[uwsgi]\nmodule = $(TSGI_SURELY_UNSET)\n',
    'loop.ini': '[uwsgi]\na = %(b)\nb = %(a)\nmodule = %(a)\n',
    'magic.ini': '[uwsgi]\nmodule = app%z\n',
  });
  fails([join(dir, 'undefined.ini')], 'TSGI_ERR_CONFIG_PLACEHOLDER', /undefined placeholder %\(nothing\) in .*undefined\.ini:3 \(--module\)/);
  fails([join(dir, 'env.ini')], 'TSGI_ERR_CONFIG_PLACEHOLDER', /undefined environment variable \$\(TSGI_SURELY_UNSET\) in .*env\.ini:2 \(--module\)/);
  fails([join(dir, 'loop.ini')], 'TSGI_ERR_CONFIG_PLACEHOLDER', /placeholder loop in .*loop\.ini:4 \(--module\): %\(a\) → %\(b\) → %\(a\)/);
  fails([join(dir, 'magic.ini')], 'TSGI_ERR_CONFIG_PLACEHOLDER', /unknown magic variable %z in .*magic\.ini:2 \(--module\)/);
  fails(['--module', '%(nothing)'], 'TSGI_ERR_CONFIG_PLACEHOLDER', /undefined placeholder %\(nothing\) in command line/);
});

test('an unknown key that no %(…) uses is an unknown option (file, line, suggestion); --strict rejects all', () => {
  const dir = folder({ 'typo.ini': '[uwsgi]\nsocket = :1\nproceses = 4\n', 'var.ini': '[uwsgi]\nport = 3031\nsocket = :%(port)\n' });
  fails([join(dir, 'typo.ini')], 'TSGI_ERR_OPT_UNKNOWN', /unknown option --proceses in .*typo\.ini:3 \(did you mean --processes\?\)/);
  assert.equal(parseArgv([join(dir, 'var.ini')]).socket, [':3031']);
  fails(['--strict', join(dir, 'var.ini')], 'TSGI_ERR_OPT_UNKNOWN', /unknown option --port in .*var\.ini:2/);
  assert.equal(parseArgv(['--strict', '--set-ph', 'port=1', '--socket', ':%(port)']).socket, [':1']);
  const short = folder({ 's.ini': '[uwsgi]\nsocket = :1\np = 4\n' });
  fails([join(short, 's.ini')], 'TSGI_ERR_OPT_UNKNOWN', /unknown option --p in .*s\.ini:3/);
  assert.is(parseArgv(['-p', '4', '--set-ph', 'p=2', '--socket', ':%(p)']).processes, 4, 'short names are for the command line only');
});

// includes

test('include / ini = other.ini: relative to the including file, depth-first, in place', () => {
  const dir = folder({
    'main.ini': '[uwsgi]\nsocket = :1\ninclude = parts/more.ini\nsocket = :4\nprocesses = 9\n',
    'base.yaml': 'uwsgi:\n  socket: :3\n  processes: 2\n',
  });
  mkdirSync(join(dir, 'parts'));
  writeFileSync(join(dir, 'parts/more.ini'), '[uwsgi]\nsocket = :2\nyaml = ../base.yaml\nmodule = %n\n');
  const options = parseArgv([join(dir, 'main.ini')]);
  assert.equal(options.socket, [':1', ':2', ':3', ':4']);
  assert.is(options.processes, 9, 'main.ini sets processes after the include');
  assert.is(options.module, 'more', 'magic variables belong to the file that is being read');
  fails(['--ini', join(dir, 'parts/more.ini'), '--include', join(dir, 'parts/missing.ini')], 'TSGI_ERR_CONFIG_READ', /cannot read config .*missing\.ini: no such file \(.*parts\/missing\.ini\)/);
  writeFileSync(join(dir, 'broken.ini'), '[uwsgi]\n\ninclude = nowhere.ini\n');
  fails([join(dir, 'broken.ini')], 'TSGI_ERR_CONFIG_READ', /cannot read config nowhere\.ini \(included from .*broken\.ini:3\): no such file/);
});

test('include loops are errors showing the chain; the same file twice without a loop is fine', () => {
  const dir = folder({
    'a.ini': '[uwsgi]\nsocket = :1\nini = b.ini\n',
    'b.ini': '[uwsgi]\nxml = c.xml\n',
    'c.xml': '<uwsgi>\n<include>a.ini</include>\n</uwsgi>\n',
    'self.ini': '[uwsgi]\ninclude = self.ini\n',
    'twice.ini': '[uwsgi]\ninclude = d.ini\ninclude = d.ini\n',
    'd.ini': '[uwsgi]\nsocket = :5\n',
  });
  fails([join(dir, 'a.ini')], 'TSGI_ERR_CONFIG_INCLUDE_LOOP', /include loop: .*a\.ini → .*b\.ini → .*c\.xml → .*a\.ini \(at .*c\.xml:2, --include\)/);
  fails([join(dir, 'self.ini')], 'TSGI_ERR_CONFIG_INCLUDE_LOOP', /include loop: .*self\.ini → .*self\.ini/);
  assert.equal(parseArgv([join(dir, 'twice.ini')]).socket, [':5', ':5']);
});

// precedence

test('precedence: files and the command line apply in the order given; lists accumulate', () => {
  const dir = folder({ 'a.ini': '[uwsgi]\nprocesses = 4\nsocket = :2\n', 'b.json': '{"processes": 6, "socket": ":3"}' });
  const file = join(dir, 'a.ini');
  assert.is(parseArgv(['--processes', '2', file]).processes, 4, 'the file comes later');
  assert.is(parseArgv([file, '--processes', '2']).processes, 2, 'the command line comes later');
  const both = parseArgv(['--socket', ':1', file, join(dir, 'b.json'), '--socket', ':4']);
  assert.is(both.processes, 6);
  assert.equal(both.socket, [':1', ':2', ':3', ':4']);
});

// bad input

test('syntax errors name the file and line; a missing file names the path; bare arguments need a config extension', () => {
  const dir = folder({ 'bad.ini': '[uwsgi]\nsocket = :1\n[broken\n', 'empty.ini': '[other]\nsocket = :1\n' });
  fails([join(dir, 'bad.ini')], 'TSGI_ERR_CONFIG_SYNTAX', /bad\.ini:3: ini syntax error: section header without a closing "\]"/);
  fails([join(dir, 'empty.ini')], 'TSGI_ERR_CONFIG_SECTION', /empty\.ini has no \[uwsgi\] section \(sections found: \[other\]\)/);
  fails([join(dir, 'nope.yaml')], 'TSGI_ERR_CONFIG_READ', new RegExp(`cannot read config .*nope\\.yaml: no such file \\(${dir}/nope\\.yaml\\)`));
  fails(['app.conf'], 'TSGI_ERR_OPT_ARGUMENT', /unexpected argument "app\.conf": not an option .* nor a config file \(\.ini, \.xml/);
  fails(['--include', 'app.conf'], 'TSGI_ERR_OPT_VALUE', /bad value for --include \(command line\): "app\.conf": unknown config format/);
  fails(['--ini', ''], 'TSGI_ERR_OPT_MISSING_VALUE', /--ini \(command line\) needs a value/);
  fails(['--set-ph', 'novalue'], 'TSGI_ERR_OPT_VALUE', /--set-placeholder .*expected NAME=VALUE/);
});

// --show-config

test('--show-config round trip: the printed ini loads back into the same options', () => {
  const dir = folder({
    'a.yaml': "uwsgi:\n  socket: ['@a', ':3031', '/tmp/x.sock']\n  http-socket: :8080\n  module: 'pkg/app:handler'\n  processes: 3\n  master: true\n  socket-timeout: 0.5\n  pidfile: '/tmp/50%%.pid'\n  disable-logging: yes\n  reload-mercy: 0\n",
  });
  const original = parseArgv([join(dir, 'a.yaml'), '--async', '16', '--show-config']);
  const shown = renderIni(original);
  writeFileSync(join(dir, 'shown.ini'), shown);
  const loaded = parseArgv(['--ini', join(dir, 'shown.ini'), '--show-config']);
  assert.equal(loaded, original);
  assert.is(renderIni(loaded), shown);
  assert.ok(shown.includes('pidfile = /tmp/50%%.pid'), '% is written %% so it is not read as a magic variable');
  assert.not.ok(/show-config|dry-run|\bini\b =/.test(shown), 'configuration options are not printed');
});

test('--show-config of the defaults is an empty [uwsgi] section', () => {
  const defaults: Options = parseArgv([]);
  assert.is(renderIni(defaults), '[uwsgi]\n');
});

test('ini: a line without = that cannot be a flag ("module myapp") is "expected key = value" at its file:line', () => {
  const dir = folder({ 'a.ini': '[uwsgi]\nmodule myapp\nmaster\n' });
  fails([join(dir, 'a.ini')], 'TSGI_ERR_CONFIG_SYNTAX', /a\.ini:2: expected key = value, got "module myapp" \(write it as "module = myapp"\)$/);
});

test('every bad line of a file is reported at once, each with its file:line, in file order', () => {
  const dir = folder({ 'a.ini': '[uwsgi]\nproceses = 2\nsocket = :1\nprocesses = many\nmodule = app\nmaster = maybe\n' });
  const { code, message } = failure([join(dir, 'a.ini')]);
  assert.is(code, 'TSGI_ERR_CONFIG_INVALID', message);
  const lines = message.split('\n');
  assert.match(lines[0]!, /^3 errors in the configuration: fix each line below, then run again$/);
  assert.match(lines[1]!, /^  unknown option --proceses in .*a\.ini:2 \(did you mean --processes\?\)$/);
  assert.match(lines[2]!, /^  bad value for --processes \(.*a\.ini:4\): "many": expected a whole number$/);
  assert.match(lines[3]!, /^  bad value for --master \(.*a\.ini:6\): "maybe"/);
  assert.is(lines.length, 4);
  const syntax = folder({ 'b.ini': '[uwsgi]\nmodule myapp\nsocket = :1\nchdir apps\n' });
  const both = failure([join(syntax, 'b.ini')]);
  assert.is(both.code, 'TSGI_ERR_CONFIG_INVALID', both.message);
  assert.match(both.message, /^2 errors in the configuration.*\n  .*b\.ini:2: expected key = value, got "module myapp".*\n  .*b\.ini:4: expected key = value, got "chdir apps"/);
  // A single bad line stays that error, with its own code (as every test above shows).
  fails([join(folder({ 'c.ini': '[uwsgi]\nprocesses = many\n' }), 'c.ini')], 'TSGI_ERR_OPT_VALUE', /^bad value for --processes \(.*c\.ini:2\)/);
});

test.run();
