/**
 * Multi-app dispatch: each core's `app` is a dispatcher built once at start, which finds the
 * request's app in the mount table and calls it, on the same core, as the core's own app.
 * Not found: a request naming an app to load (UWSGI_SCRIPT…) loads it first; else the default
 * app serves it (unless --no-default-app); else 500 and uWSGI's "no application found" line.
 */
import { enterThread, leaveThread } from '../../green/current.js';
import { log } from '../logger.js';
import { logAppError } from '../worker/app-errors.js';
import type { App, Core, StartResponse } from '../worker/core.js';
import type { Environ } from '../worker/environ.js';
import type { AppTable, MountedApp } from './app-table.js';
import { requestedSource, type MountLoader } from './mount-loader.js';

const NO_APP_BODY = 'Internal Server Error';

export class Dispatcher {
  constructor(private readonly table: AppTable, private readonly loader: MountLoader, private readonly callable: string) {}

  /** The function a core runs for every request (one per core: it knows its core). */
  forCore(core: Core): App {
    return (env, startResponse) => this.#serve(core, env, startResponse);
  }

  #serve(core: Core, env: Environ, startResponse: StartResponse): unknown {
    const key = this.table.keyOf(env);
    const mounted = this.table.find(key);
    if (mounted !== undefined) return run(core, mounted, env, startResponse);
    const source = requestedSource(env, this.callable);
    if (source === null) return this.#fallback(core, key, env, startResponse);
    const generation = core.generation;
    return this.loader.load(key, source).then(
      (loaded) => this.#resumed(core, generation, loaded, env, startResponse, key),
      (error: unknown) => {
        logAppError(`loading the app for mountpoint '${key}' (${source.name}) failed`, error);
        return this.#resumed(core, generation, null, env, startResponse, key);
      },
    );
  }

  #fallback(core: Core, key: string, env: Environ, startResponse: StartResponse): unknown {
    const fallback = this.table.defaultApp;
    if (fallback !== null) return run(core, fallback, env, startResponse);
    core.mounted = null;
    log(`--- no app found for '${key}' (${env.REQUEST_METHOD} ${env.REQUEST_URI ?? env.PATH_INFO}), check your startup logs for errors ---`);
    startResponse('500 Internal Server Error', [['Content-Type', 'text/plain'], ['Content-Length', String(NO_APP_BODY.length)]]);
    return NO_APP_BODY;
  }

  /**
   * After an async load: back on the core's green thread, so bare api calls attach to it. A
   * request whose client left (or that was halted) while the app loaded is not run.
   */
  #resumed(core: Core, generation: number, mounted: MountedApp | null, env: Environ, startResponse: StartResponse, key: string): unknown {
    if (core.generation !== generation) return undefined;
    const previous = enterThread(core);
    try {
      return mounted === null ? this.#fallback(core, key, env, startResponse) : run(core, mounted, env, startResponse);
    } finally {
      leaveThread(previous);
    }
  }
}

function run(core: Core, mounted: MountedApp, env: Environ, startResponse: StartResponse): unknown {
  core.mounted = mounted;
  mounted.counters.countRequest();
  return mounted.app(env, startResponse);
}
