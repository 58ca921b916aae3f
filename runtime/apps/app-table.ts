/**
 * A worker's mount table: the apps it holds, found as uWSGI's `uwsgi_get_app_id` finds them.
 * The key of a request is UWSGI_APPID when given, else SCRIPT_NAME, or with --vhost
 * `HOST|SCRIPT_NAME` (HOST = HTTP_HOST, SERVER_NAME without one); a mountpoint matches a key
 * exactly. --manage-script-name first moves the longest mountpoint PATH_INFO starts with (at a
 * `/` boundary) into SCRIPT_NAME. The default app is the first mounted at "" or at a path
 * starting with "/": what uWSGI's Python loader does (pyloader.c tests `appid_len = 1 && appid[0]
 * == '/'`, an assignment, so any "/…" mountpoint qualifies; uWSGI 2.0.21 logs `(default app)`
 * for `--mount /app1=…`), and tsgi serves WSGI-style apps as that loader does.
 */
import type { App } from '../worker/core.js';
import type { Environ } from '../worker/environ.js';
import type { AppCounters } from './app-board.js';

export interface MountedApp {
  id: number;
  mountpoint: string;
  app: App;
  /** `app1.js:application`, for the logs. */
  label: string;
  counters: AppCounters;
}

export interface TableOptions {
  vhost: boolean;
  manageScriptName: boolean;
  noDefaultApp: boolean;
}

/** A mountpoint without its trailing `/`, as --manage-script-name compares it, and the whole one. */
interface Prefix {
  stem: string;
  mountpoint: string;
}

export class AppTable {
  readonly apps: MountedApp[] = [];
  readonly #byKey = new Map<string, MountedApp>();
  /** Longest stem first: the first that matches is uWSGI's best. */
  #prefixes: Prefix[] = [];
  #default: MountedApp | null = null;

  constructor(readonly options: TableOptions) {}

  get defaultApp(): MountedApp | null {
    return this.#default;
  }

  has(mountpoint: string): boolean {
    return this.#byKey.has(mountpoint);
  }

  add(mounted: MountedApp): void {
    const { mountpoint } = mounted;
    this.apps.push(mounted);
    this.#byKey.set(mountpoint, mounted);
    if (this.#default === null && !this.options.noDefaultApp && (mountpoint === '' || mountpoint.startsWith('/'))) this.#default = mounted;
    const stem = mountpoint.endsWith('/') ? mountpoint.slice(0, -1) : mountpoint;
    // uWSGI's best match must be longer than 0: "" and "/" never take a path.
    if (stem !== '') this.#prefixes = [...this.#prefixes, { stem, mountpoint }].sort((a, b) => b.stem.length - a.stem.length);
  }

  /** The request's key, after the --manage-script-name split; with --vhost also set as UWSGI_APPID. */
  keyOf(env: Environ): string {
    if (this.options.manageScriptName) this.#splitScriptName(env);
    const appid = env.UWSGI_APPID;
    if (typeof appid === 'string' && appid !== '') return appid;
    const scriptName = typeof env.SCRIPT_NAME === 'string' ? env.SCRIPT_NAME : '';
    if (!this.options.vhost) return scriptName;
    const host = env.HTTP_HOST ?? env.SERVER_NAME;
    const key = `${typeof host === 'string' ? host : ''}|${scriptName}`;
    env.UWSGI_APPID = key;
    return key;
  }

  find(key: string): MountedApp | undefined {
    return this.#byKey.get(key);
  }

  #splitScriptName(env: Environ): void {
    const path = env.PATH_INFO;
    if (typeof path !== 'string' || path === '') return;
    if (env.SCRIPT_NAME === undefined) env.SCRIPT_NAME = '';
    for (const { stem, mountpoint } of this.#prefixes) {
      if (path.length < stem.length || !path.startsWith(stem) || (path.length > stem.length && path.charCodeAt(stem.length) !== SLASH)) continue;
      env.SCRIPT_NAME = mountpoint;
      env.PATH_INFO = path.slice(mountpoint.length);
      return;
    }
  }
}

const SLASH = 0x2f;
