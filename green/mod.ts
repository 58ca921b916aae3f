/** The green runtime: preallocated threads on a per-worker cooperative scheduler. */
export { Scheduler } from './scheduler.js';
export { currentThread } from './current.js';
export { GreenThread, DRAIN, REQUEUE, isChunk, type Chunk } from './thread.js';
export { Suspension } from './suspension.js';
export { Sleep, FdWait, Resolved, asyncSleep, suspend, waitFd } from './suspend.js';
