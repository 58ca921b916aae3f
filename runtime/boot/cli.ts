/**
 * Command-line entry: the options (parsed by command-line.ts, or handed over by a single process
 * that restarted itself: see heap.ts) → a master, or a single process.
 */
import { hasDaemons } from '../daemons/options.js';
import { isTsgiError } from '../errors.js';
import { restartWithNurseryCap, takeRestartOptions } from './heap.js';
import { daemonize, takeReadyPipe } from '../logging/daemonize.js';
import { setupLogging } from '../logging/setup.js';
import type { Options } from '../options.js';

function fail(error: unknown): never {
  process.stderr.write(`tsgi: ${error instanceof Error ? error.message : String(error)}\n`);
  if (!isTsgiError(error)) process.stderr.write(`${(error as Error).stack ?? ''}\n`);
  process.exit(1);
}

/** Spoolers and daemons are processes the master supervises: the seed's `--spooler myqueue` has no --master. */
function supervised(options: Options): boolean {
  return options.master || options.processes > 1 || options.spooler.length > 0 || hasDaemons(options);
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
    const detached = await daemonize(options, argv, startDir);
    if (detached !== undefined) process.exit(detached);
    takeReadyPipe();
    setupLogging(options, false, !supervised(options)); // before --chdir: relative log paths are the command line's, as uWSGI opens them
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
