/**
 * `--mount MOUNTPOINT=APP`, parsed as uWSGI does (the first `=` splits; the mountpoint may be
 * empty: the default app). APP is a module or a file, as `--module` / `--wsgi-file` take it.
 */
export interface MountSpec {
  mountpoint: string;
  /** `pkg/mod`, `app.js` or `./dir/app.mjs`, optionally `:callable`. */
  app: string;
}

/** uWSGI keeps mountpoints in 255-byte fields; so does the stats board (app-board.ts). */
export const MAX_MOUNTPOINT_BYTES = 255;

export function parseMount(value: string): MountSpec {
  const equals = value.indexOf('=');
  if (equals < 0) throw new Error('expected MOUNTPOINT=APP, e.g. /app1=app1.js');
  const mountpoint = value.slice(0, equals).trim();
  const app = value.slice(equals + 1).trim();
  if (app === '') throw new Error(`no app after "=" for mountpoint ${JSON.stringify(mountpoint)}`);
  if (Buffer.byteLength(mountpoint) > MAX_MOUNTPOINT_BYTES) throw new Error(`the mountpoint is longer than ${MAX_MOUNTPOINT_BYTES} bytes`);
  if (/[\0\r\n]/.test(mountpoint)) throw new Error('the mountpoint contains a control character');
  return { mountpoint, app };
}

/** The row's `check`: the option table names the option, file and line around the message. */
export function checkMount(value: string): void {
  parseMount(value);
}
