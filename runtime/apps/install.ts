/**
 * Puts a worker's apps on its cores. One app and no multi-app option: the app itself, as
 * before (nothing between the core and the app). Otherwise the mount table: the `--module` /
 * `--wsgi-file` app at "" (the default app), each `--mount` in order, and a dispatcher on
 * every core that may load more on request.
 */
import { isTsgiError, tsgiError } from '../errors.js';
import { log } from '../logger.js';
import type { Options } from '../options.js';
import type { SharedState } from '../shared/state.js';
import { loadApp } from '../worker/app-loader.js';
import type { Core } from '../worker/core.js';
import { AppTable } from './app-table.js';
import { Dispatcher } from './dispatch.js';
import { MountLoader } from './mount-loader.js';
import { parseMount } from './mount-spec.js';
import { multiAppMode } from './options.js';

/** Loads the apps and returns what the worker's ready line calls them. */
export async function installApps(options: Options, cores: readonly Core[], shared: SharedState, workerId: number): Promise<string> {
  if (!multiAppMode(options)) {
    const loaded = await loadApp(options);
    for (const core of cores) core.app = loaded.app;
    return `app ${loaded.label}`;
  }
  const board = shared.apps!;
  board.clear(workerId);
  const table = new AppTable({ vhost: options.vhost, manageScriptName: options['manage-script-name'], noDefaultApp: options['no-default-app'] });
  const loader = new MountLoader(table, board, workerId, options['max-apps']);
  const { callable } = options;
  if (options['wsgi-file'] !== undefined) await loader.load('', { kind: 'file', name: options['wsgi-file'], callable });
  else if (options.module !== undefined) await loader.load('', { kind: 'module', name: options.module, callable });
  for (const value of options.mount) {
    const { mountpoint, app } = parseMount(value);
    // --vhost keys are HOST|SCRIPT_NAME: a bare host is the host's root.
    const key = options.vhost && !mountpoint.includes('|') ? `${mountpoint}|` : mountpoint;
    if (table.has(key)) {
      log(`mountpoint '${key}' already configured: --mount ${value} skipped`);
      continue;
    }
    try {
      await loader.load(key, { kind: 'module', name: app, callable });
    } catch (error) {
      throw namingTheMount(error, value);
    }
  }
  if (table.apps.length === 0) log('*** no app loaded: full dynamic mode (apps load on requests carrying UWSGI_SCRIPT, UWSGI_MODULE or UWSGI_FILE) ***');
  const dispatcher = new Dispatcher(table, loader, callable);
  for (const core of cores) core.app = dispatcher.forCore(core);
  return `${table.apps.length} app(s) mounted`;
}

/** A mount that cannot load says which --mount it was (the same code, so the exit code stays). */
function namingTheMount(error: unknown, value: string): unknown {
  if (!isTsgiError(error)) return error;
  return tsgiError(error.code, `--mount ${value}: ${error.message}`, { cause: error.cause });
}
