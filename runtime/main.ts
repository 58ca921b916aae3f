#!/usr/bin/env node
/**
 * The `tsgi` command. A process the master spawned (TSGI_WORKER_ID set) becomes a worker or a
 * spooler; anything else parses the command line and runs as master, or as a single process.
 */
import { childRole } from './ipc.js';

const role = childRole();
if (role === 'worker') await (await import('./worker/process.js')).runWorkerProcess();
else if (role === 'spooler') await (await import('./spooler/process.js')).runSpoolerProcess();
else await (await import('./boot/cli.js')).runCli(process.argv.slice(2));
