#!/usr/bin/env node
/**
 * The `tsgi` command. A process the master spawned (TSGI_WORKER_ID set) becomes a worker;
 * anything else parses the command line and runs as master, or as a single process.
 */
import { isWorkerProcess } from './ipc.js';

if (isWorkerProcess()) await (await import('./worker-process.js')).runWorkerProcess();
else await (await import('./cli.js')).runCli(process.argv.slice(2));
