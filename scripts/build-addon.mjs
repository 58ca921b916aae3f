#!/usr/bin/env node
// Builds build/Release/tsgi.node with node-gyp; package.json runs it as the "install" script.
//
// Two things make a plain `node-gyp rebuild` unreliable, so this script decides them itself:
// - Headers: without --nodedir, node-gyp downloads them, which fails offline. A system or
//   tarball Node ships them next to the binary (<prefix>/include/node), so that is used first.
// - node-gyp itself: `npx node-gyp` is not installed everywhere, but npm bundles one.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { haveLibzmq } from './detect-libzmq.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HELP =
  'tsgi: could not build the native addon; install python3, make, g++ and the Node.js headers ' +
  '(<node prefix>/include/node, or point npm_config_nodedir at them), then run `node scripts/build-addon.mjs`';

/** The Node prefix holding include/node/node_api.h, or npm's configured nodedir. */
function findNodeDir() {
  const prefix = path.resolve(process.execPath, '../..');
  if (existsSync(path.join(prefix, 'include/node/node_api.h'))) return prefix;
  return process.env.npm_config_nodedir || undefined;
}

/** npm's bundled node-gyp first (it is the one npm itself would run), then other known spots. */
function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  if (process.env.npm_execpath) {
    candidates.push(path.resolve(process.env.npm_execpath, '../../node_modules/node-gyp/bin/node-gyp.js'));
  }
  try {
    candidates.push(createRequire(path.join(root, 'package.json')).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not a dependency of this project: fine
  }
  candidates.push(
    path.resolve(process.execPath, '../../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  );
  return candidates.find((candidate) => existsSync(candidate));
}

const nodeGyp = findNodeGyp();
if (nodeGyp === undefined) {
  console.error(`${HELP} (node-gyp was not found: it ships with npm)`);
  process.exit(1);
}
const nodeDir = findNodeDir();
const args = [nodeGyp, 'rebuild'];
if (nodeDir !== undefined) args.push(`--nodedir=${nodeDir}`);

console.log('tsgi: building the native addon (node-gyp)…');
if (!haveLibzmq()) {
  console.log('tsgi: libzmq headers not found (Debian: libzmq3-dev): building without the native ZeroMQ sockets; --zmq will use zeromq.js');
}
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
const code = result.status ?? 1;
if (code !== 0) console.error(HELP);
process.exit(code);
