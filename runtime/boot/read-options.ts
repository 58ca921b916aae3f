/**
 * The options from the command line and the config files it names, checked as a whole; also
 * `--help`, `--version`, `--show-config` and `--dry-run`, which end here.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { renderIni } from '../config/show.js';
import { OPTION_CHECKS, parseArgv, renderHelp, type Options } from '../options.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * Everything wrong with a configuration that the option setters could not see alone. The
 * checks are declared beside the rows they relate (e.g. protocols/options.ts); this only runs them.
 */
function validate(options: Options): void {
  if (options.emperor.length > 0) return; // an Emperor serves nothing itself: its vassals are checked by their own masters
  for (const check of OPTION_CHECKS) check(options);
}

/** The options to run with, or undefined when the command line asked for something else (done here). */
export function optionsFromCommandLine(argv: string[]): Options | undefined {
  const options = parseArgv(argv);
  if (options.help) return void process.stdout.write(renderHelp());
  if (options.version) return void process.stdout.write(`tsgi ${version()} (node ${process.version})\n`);
  return checkedOptions(options);
}

/** Options from any source (the command line, a cluster's answer), checked as a whole; undefined after --dry-run. */
export function checkedOptions(options: Options): Options | undefined {
  validate(options);
  if (options['show-config'] || options['dry-run']) process.stdout.write(renderIni(options));
  if (options['dry-run']) return undefined;
  // Relative to where tsgi was started, like uWSGI (which resolves them before --chdir).
  options.spooler = options.spooler.map((dir) => resolve(dir));
  options['spooler-external'] = options['spooler-external'].map((dir) => resolve(dir));
  return options;
}
