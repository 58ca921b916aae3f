/**
 * Command-line entry: the options (parsed by command-line.ts, or handed over by a single process
 * that restarted itself: see heap.ts) → a master, or a single process.
 */
import { hasDaemons } from '../daemons/options.js';
import { isTsgiError } from '../errors.js';
import { restartWithNurseryCap, takeRestartOptions } from './heap.js';
import type { Options } from '../options.js';

function fail(error: unknown): never {
  process.stderr.write(`tsgi: ${error instanceof Error ? error.message : String(error)}\n`);
  if (!isTsgiError(error)) process.stderr.write(`${(error as Error).stack ?? ''}\n`);
  process.exit(1);
}

/** Spoolers, daemons and routers are processes the master supervises: the seed's `--spooler myqueue` has no --master. */
function supervised(options: Options): boolean {
  return options.master || options.processes > 1 || options.spooler.length > 0 || hasDaemons(options) || options.http.length > 0;
}

async function commandLineOptions(argv: string[]): Promise<Options | undefined> {
  const { optionsFromCommandLine } = await import('./read-options.js');
  const options = optionsFromCommandLine(argv);
  if (options !== undefined && !supervised(options)) restartWithNurseryCap(options);
  return options;
}

export async function runCli(argv: string[]): Promise<void> {
  let options: Options | undefined;
  const startDir = process.cwd(); // a reload re-reads the config from here, as at boot
  try {
    options = takeRestartOptions() ?? (await commandLineOptions(argv));
    if (options === undefined) return;
    if (options.chdir !== undefined) process.chdir(options.chdir);
  } catch (error) {
    fail(error);
  }
  const [{ Master }, { masterSubsystems, singleProcessSubsystems }, { commandLineReader }] = await Promise.all([
    import('../master/master.js'), import('../master/subsystems.js'), import('../master/reconfigure.js'),
  ]);
  if (!supervised(options)) return new Master(options, singleProcessSubsystems(), false).run();
  await new Master(options, masterSubsystems(), true, commandLineReader(argv, startDir)).run();
}
