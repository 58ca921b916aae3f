/**
 * Loads one app into a worker's mount table: at start for each `--mount` (and the
 * `--module`/`--wsgi-file` app, mounted at ""), and on a request carrying UWSGI_SCRIPT,
 * UWSGI_MODULE (+ UWSGI_CALLABLE) or UWSGI_FILE whose key no app has, as uWSGI's dynamic apps.
 * Loads run one at a time: an app's top level registers signals as "the app being loaded".
 */
import { resolve } from 'node:path';
import { tsgiError } from '../errors.js';
import { log } from '../logger.js';
import { importApp, isFile, resolveModule, splitSpec } from '../worker/app-loader.js';
import type { AppBoard } from './app-board.js';
import { appGraphQuery } from './app-graphs.js';
import type { AppTable, MountedApp } from './app-table.js';
import { setLoadingApp } from './current-app.js';

/** What to import: a module name or a file, and the callable. */
export interface AppSource {
  kind: 'module' | 'file';
  name: string;
  callable: string;
}

export class MountLoader {
  #queue: Promise<unknown> = Promise.resolve();
  readonly #pending = new Map<string, Promise<MountedApp>>();

  constructor(private readonly table: AppTable, private readonly board: AppBoard, private readonly workerId: number, private readonly maxApps: number) {}

  /** Loads `source` at `mountpoint` (once, however many requests ask at the same time). */
  load(mountpoint: string, source: AppSource): Promise<MountedApp> {
    let pending = this.#pending.get(mountpoint);
    if (pending === undefined) {
      pending = this.#queue.then(() => this.#load(mountpoint, source));
      this.#queue = pending.catch(() => {});
      this.#pending.set(mountpoint, pending);
      // A failed load is tried again by the next request, as uWSGI does.
      void pending.then(() => this.#pending.delete(mountpoint), () => this.#pending.delete(mountpoint));
    }
    return pending;
  }

  async #load(mountpoint: string, source: AppSource): Promise<MountedApp> {
    const existing = this.table.find(mountpoint);
    if (existing !== undefined) return existing;
    const id = this.table.apps.length;
    if (id >= this.maxApps) throw tsgiError('TSGI_ERR_APP_LOAD', `cannot load more than ${this.maxApps} apps in a worker (--max-apps): ${source.name} for mountpoint ${JSON.stringify(mountpoint)} refused`);
    const started = performance.now();
    const cwd = process.cwd();
    const [name, callable] = source.kind === 'module' ? splitSpec(source.name, source.callable) : [source.name, source.callable];
    const path = source.kind === 'module' ? resolveModule(name, cwd) : resolve(cwd, name);
    if (!isFile(path)) throw tsgiError('TSGI_ERR_APP_NOT_FOUND', `${path} does not exist (mountpoint ${JSON.stringify(mountpoint)})`);
    setLoadingApp(id);
    let loaded;
    try {
      loaded = await importApp(path, callable, `${name}:${callable}`, appGraphQuery(id));
    } finally {
      setLoadingApp(0);
    }
    const ms = performance.now() - started;
    const counters = this.board.add(this.workerId, id, mountpoint, Math.floor(ms / 1000));
    const mounted: MountedApp = { id, mountpoint, app: loaded.app, label: loaded.label, counters };
    this.table.add(mounted);
    const isDefault = this.table.defaultApp === mounted ? ' (default app)' : '';
    log(`app ${id} (mountpoint='${mountpoint}') ready in ${ms.toFixed(0)} ms: ${loaded.label}${isDefault}`);
    return mounted;
  }
}

/** The app a request asks to be loaded (uWSGI's dynamic apps), or null. */
export function requestedSource(env: Record<string, unknown>, callable: string): AppSource | null {
  const named = typeof env.UWSGI_CALLABLE === 'string' && env.UWSGI_CALLABLE !== '' ? env.UWSGI_CALLABLE : callable;
  if (typeof env.UWSGI_SCRIPT === 'string' && env.UWSGI_SCRIPT !== '') return { kind: 'module', name: env.UWSGI_SCRIPT, callable: named };
  if (typeof env.UWSGI_MODULE === 'string' && env.UWSGI_MODULE !== '') return { kind: 'module', name: env.UWSGI_MODULE, callable: named };
  if (typeof env.UWSGI_FILE === 'string' && env.UWSGI_FILE !== '') return { kind: 'file', name: env.UWSGI_FILE, callable: named };
  return null;
}
