/**
 * Which app's code is running, for api calls whose effect belongs to one app (a signal handler
 * registered by app 2 is app 2's). A request core knows the app it serves; code running at an
 * app's top level (its import) belongs to the app being loaded, a signal handler to the app
 * that registered it. Loads never overlap
 * (mount-loader.ts runs them one at a time), so one slot is enough.
 */
import { currentThread } from '../../green/current.js';
import type { MountedApp } from './app-table.js';

let loading = 0;

/** The app being imported now (0 outside a load: the first, or only, app). */
export function setLoadingApp(id: number): void {
  loading = id;
}

export function currentAppId(): number {
  const thread = currentThread() as { mounted?: MountedApp | null; appId?: number } | null;
  return thread?.mounted?.id ?? thread?.appId ?? loading;
}
