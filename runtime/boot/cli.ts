/**
 * Command-line entry: the options (parsed by command-line.ts, or handed over by a single process
 * that restarted itself: see heap.ts) → a master, or a single process.
 */
import { hasDaemons } from '../daemons/options.js';
import { hasGateways } from '../routers/options.js';
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

/** Spoolers, daemons and routers are processes the master supervises: the seed's `--spooler myqueue` has no --master. */
function supervised(options: Options): boolean {
  return options.master || options.processes > 1 || options.spooler.length > 0 || hasDaemons(options) || hasGateways(options);
}

async function commandLineOptions(argv: string[]): Promise<Options | undefined> {
  const { optionsFromCommandLine, checkedOptions } = await import('./read-options.js');
  const cluster = argv.some((arg) => arg.startsWith('--cluster')) ? await (await import('../cluster/boot.js')).clusterCommandLine(argv) : undefined;
  if (cluster === 'done') return undefined;
  const options = cluster === undefined ? optionsFromCommandLine(argv) : checkedOptions(cluster);
  if (options !== undefined && !supervised(options) && options.emperor.length === 0) restartWithNurseryCap(options);
  return options;
}

export async function runCli(argv: string[]): Promise<void> {
  if (argv[0] === 'top') return (await import('../top/command.js')).runTop(argv.slice(1)); // `tsgi top ADDR`: a viewer, not an instance
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
  const [{ Master }, { emperorSubsystems, masterSubsystems, singleProcessSubsystems }, { commandLineReader }] = await Promise.all([
    import('../master/master.js'), import('../master/subsystems.js'), import('../master/reconfigure.js'),
  ]);
  if (options.emperor.length > 0) return new Master(options, await emperorSubsystems(options), false).run();
  if (!supervised(options)) return new Master(options, await singleProcessSubsystems(options), false).run();
  await new Master(options, await masterSubsystems(options), true, commandLineReader(argv, startDir)).run();
}
