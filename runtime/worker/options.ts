/**
 * The worker's rows of the option table (runtime/options.ts): the app it loads and the green
 * cores it runs that app on.
 */
import { tsgiError } from '../errors.js';
import type { OptionCheck, OptionRow } from '../options.js';
import { appsComeLater } from '../apps/options.js';
import { routerOnly } from '../routers/http/options.js';

export const APPLICATION_ROWS = [
  { name: 'module', short: 'w', aliases: ['wsgi'], kind: 'string', arg: 'MOD[:CALLABLE]', section: 'Application', help: 'load the app from MOD (pkg/mod, resolved from the working directory)' },
  { name: 'wsgi-file', aliases: ['file'], kind: 'string', arg: 'PATH', section: 'Application', help: 'load the app from a .js/.mjs/.cjs/.ts file (.ts needs no build step)' },
  { name: 'callable', kind: 'string', arg: 'NAME', section: 'Application', default: 'application', help: 'name of the exported app function' },
  { name: 'chdir', kind: 'string', arg: 'DIR', section: 'Application', help: 'chdir to DIR before loading the app' },
] as const satisfies readonly OptionRow[];

export const APPLICATION_CHECKS: readonly OptionCheck[] = [
  function someAppToLoad(options) {
    if (options.module === undefined && options['wsgi-file'] === undefined && options.fastrouter.length === 0 && !routerOnly(options) && !appsComeLater(options)) {
      throw tsgiError('TSGI_ERR_NO_APP', 'no app: give --module NAME or --wsgi-file PATH');
    }
  },
];

export const GREEN_ROWS = [
  { name: 'async', kind: 'int', arg: 'N', section: 'Green runtime', min: 1, max: 1_000_000, default: 1, help: 'cores (request slots) per worker; each request runs as a green thread' },
  { name: 'ugreen', kind: 'flag', section: 'Green runtime', default: false, help: 'select the generator green-thread engine (the only one; accepted for uWSGI compatibility)' },
] as const satisfies readonly OptionRow[];
