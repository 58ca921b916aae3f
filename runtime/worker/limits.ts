/**
 * The process limits a worker sets on itself before it loads the app: `--limit-as`
 * (RLIMIT_AS), `--max-fd` (RLIMIT_NOFILE), and enough fds for `--async` cores.
 *
 * uWSGI sets them in the master, before it forks. tsgi's workers are fresh Node processes
 * instead, and V8 reserves most of its address space while Node starts (about 0.7 GiB of VSZ
 * before any app code: the heap cage, code space, thread stacks). Set in the master, the limit
 * would have to leave room for that in the master itself and in every child's start-up; set
 * here, after the reservation, it caps what the app adds. A limit below what is already
 * reserved would make V8's next reservation fail with a fatal "out of memory" crash far from
 * any option name, so it is refused up front with TSGI_ERR_LIMIT_AS.
 */
import { tsgiError } from '../errors.js';
import { log } from '../logger.js';
import { native } from '../native.js';
import type { Options } from '../options.js';
import { processMemory } from '../stats/memory.js';

const MB = 1024 * 1024;

export function applyProcessLimits(options: Options): void {
  if (options['limit-as'] > 0) limitAddressSpace(options['limit-as']);
  if (options['max-fd'] > 0) setOpenFilesLimit(options['max-fd'], options.async);
  else if (options.async > 1) raiseFdLimit(options.async);
}

function limitAddressSpace(megabytes: number): void {
  const bytes = megabytes * MB;
  const [, vsz] = processMemory();
  if (bytes <= vsz) {
    throw tsgiError('TSGI_ERR_LIMIT_AS', `--limit-as ${megabytes} is below the ${Math.ceil(vsz / MB)} MB of address space this worker (pid ${process.pid}) `
      + 'already reserved while Node started: V8 could not reserve more and the worker would crash (Node needs about 700 MB before the app; give well above that)');
  }
  const [, hard] = native.resourceLimit('as');
  try {
    native.setResourceLimit('as', bytes, Math.min(hard, bytes));
  } catch (error) {
    throw tsgiError('TSGI_ERR_LIMIT_AS', `--limit-as ${megabytes}: setrlimit(RLIMIT_AS) failed: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * uWSGI sets soft and hard to N. Without root the hard limit cannot rise, so N above it gets
 * the hard limit and a warning rather than a worker that refuses to start.
 */
function setOpenFilesLimit(wanted: number, cores: number): void {
  const [, hard] = native.resourceLimit('nofile');
  let limit = wanted;
  try {
    native.setResourceLimit('nofile', wanted, wanted);
  } catch {
    limit = Math.min(wanted, hard);
    native.setResourceLimit('nofile', limit, hard);
    log(`--max-fd ${wanted} is above the hard open files limit ${hard} (only root may raise it): the limit is ${limit}`);
  }
  if (limit < cores + 256) log(`--max-fd ${limit} is below the ${cores + 256} open files that --async ${cores} may need`);
}

/** Each core may hold a connection: make sure the fd limit allows them all. */
function raiseFdLimit(cores: number): void {
  const wanted = cores + 256;
  const limit = native.raiseOpenFilesLimit(wanted);
  if (limit < wanted) log(`open files limit is ${limit}, below the ${wanted} that --async ${cores} may need (raise ulimit -n)`);
}
