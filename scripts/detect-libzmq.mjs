#!/usr/bin/env node
// Prints 1 when libzmq can be compiled and linked against (Debian: libzmq3-dev), else 0:
// binding.gyp's tsgi_zmq, which adds native/zmq.c (the Mongrel2 handler's native sockets).
// Without it the addon still builds and the handler uses zeromq.js. A test compile, not a
// header lookup, because the header alone does not link (libzmq5 without -dev ships no .so).
import { spawnSync } from 'node:child_process';

export function haveLibzmq() {
  const program = '#include <zmq.h>\nint main(void) { return zmq_ctx_new() == 0; }\n';
  const compiler = process.env.CC || 'cc';
  const result = spawnSync(compiler, ['-x', 'c', '-', '-lzmq', '-o', '/dev/null'], { input: program, stdio: ['pipe', 'ignore', 'ignore'] });
  return result.status === 0;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(haveLibzmq() ? 1 : 0);
