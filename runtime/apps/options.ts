/**
 * The rows of many apps in one instance (uWSGI's multi-app mode): `--mount` apps at
 * mountpoints, the SCRIPT_NAME/PATH_INFO split, virtual hosting and the default-app fallback.
 */
import type { OptionRow, Options } from '../options.js';
import { checkMount } from './mount-spec.js';

export const MOUNT_ROWS = [
  { name: 'mount', kind: 'string', arg: 'MOUNTPOINT=APP', section: 'Many apps', repeatable: true, check: checkMount, help: 'load APP (a module or file, as --module/--wsgi-file take it; MOD:CALLABLE names the callable) at MOUNTPOINT, as its own module instance; with --vhost MOUNTPOINT is a host' },
  { name: 'manage-script-name', kind: 'flag', section: 'Many apps', default: false, help: 'split SCRIPT_NAME/PATH_INFO at the longest mountpoint PATH_INFO starts with' },
  { name: 'vhost', kind: 'flag', section: 'Many apps', default: false, help: 'virtual hosting: the app is picked by HTTP_HOST (SERVER_NAME without one) and SCRIPT_NAME, key HOST|SCRIPT_NAME; without an app option the instance starts in full dynamic mode (UWSGI_SCRIPT)' },
  { name: 'no-default-app', kind: 'flag', section: 'Many apps', default: false, help: 'never fall back to the default app (the first mounted at "" or at a path starting with "/"): a request no mountpoint matches gets 500' },
  { name: 'max-apps', kind: 'int', arg: 'N', section: 'Many apps', min: 1, max: 1024, default: 64, help: 'most apps a worker holds (mounted and loaded by UWSGI_SCRIPT); past it a dynamic app is refused' },
] as const satisfies readonly OptionRow[];

/**
 * Multi-app mode: requests are dispatched through the mount table. Off (one app, none of
 * these options) the app is called directly and request vars such as UWSGI_SCRIPT are ignored,
 * so a single-app instance pays nothing for the table.
 */
export function multiAppMode(options: Options): boolean {
  return options.mount.length > 0 || options.vhost || options['manage-script-name'];
}

/** An instance may start with no app at all when mounts, or requests (vhost: UWSGI_SCRIPT), bring them. */
export function appsComeLater(options: Options): boolean {
  return options.mount.length > 0 || options.vhost;
}
