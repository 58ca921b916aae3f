/**
 * Command-line entry: options (command line and config files) → `--help`/`--version`,
 * `--dry-run`, or a master, or a single process.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { isTsgiError, tsgiError } from './errors.js';
import { renderIni } from './config/show.js';
import { parseArgv, renderHelp, type Options } from './options.js';
import { parseZmqSpec } from './protocols/mongrel2-parser.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function fail(error: unknown): never {
  process.stderr.write(`tsgi: ${error instanceof Error ? error.message : String(error)}\n`);
  if (!isTsgiError(error)) process.stderr.write(`${(error as Error).stack ?? ''}\n`);
  process.exit(1);
}

/** Everything wrong with a configuration that the option setters could not see alone. */
function validate(options: Options): void {
  if (options.socket.length + options['http-socket'].length + options['fastcgi-socket'].length + options.zmq.length === 0) {
    throw tsgiError('TSGI_ERR_NO_SOCKET', 'nothing to listen on: give --socket, --http-socket, --fastcgi-socket or --zmq');
  }
  for (const spec of options.zmq) parseZmqSpec(spec);
  if (options.module === undefined && options['wsgi-file'] === undefined) {
    throw tsgiError('TSGI_ERR_NO_APP', 'no app: give --module NAME or --wsgi-file PATH');
  }
}

export async function runCli(argv: string[]): Promise<void> {
  let options: Options;
  try {
    options = parseArgv(argv);
    if (options.help) return void process.stdout.write(renderHelp());
    if (options.version) return void process.stdout.write(`tsgi ${version()} (node ${process.version})\n`);
    validate(options);
    if (options['show-config'] || options['dry-run']) process.stdout.write(renderIni(options));
    if (options['dry-run']) return;
    // Relative to where tsgi was started, like uWSGI (which resolves them before --chdir).
    options.spooler = options.spooler.map((dir) => resolve(dir));
    options['spooler-external'] = options['spooler-external'].map((dir) => resolve(dir));
    if (options.chdir !== undefined) process.chdir(options.chdir);
  } catch (error) {
    fail(error);
  }
  // Spoolers are processes the master supervises: the seed's `--spooler myqueue` has no --master.
  if (options.master || options.processes > 1 || options.spooler.length > 0) {
    const { Master } = await import('./master.js');
    await new Master(options).start();
  } else {
    const { runSingle } = await import('./single.js');
    await runSingle(options);
  }
}
