/**
 * The Cheaper rows of the option table (runtime/options.ts): uWSGI's cheaper subsystem, which
 * runs between `--cheaper` and `--processes` workers and lets an algorithm decide when to spawn
 * and retire them. Names and defaults are uWSGI's (core/uwsgi.c, plugins/cheaper_busyness).
 */
import { parseAddress } from '../../address.js';
import { tsgiError } from '../../errors.js';
import { optionOrigin, type OptionCheck, type OptionRow, type Options } from '../../options.js';

export const CHEAPER_ALGOS = ['spare', 'backlog', 'busyness'] as const;

export const CHEAPER_ROWS = [
  { name: 'cheaper', kind: 'int', arg: 'N', section: 'Cheaper', min: 0, max: 1023, default: 0, help: 'run at least N workers and up to --processes, spawning and retiring them as --cheaper-algo decides (0: always --processes)' },
  { name: 'cheaper-initial', kind: 'int', arg: 'N', section: 'Cheaper', min: 1, max: 1024, help: 'workers to start with, between --cheaper and --processes (default --cheaper)' },
  { name: 'cheaper-step', kind: 'int', arg: 'N', section: 'Cheaper', min: 1, max: 1024, default: 1, help: 'workers to spawn at a time when the algorithm wants more' },
  { name: 'cheaper-overload', kind: 'number', arg: 'SECS', section: 'Cheaper', min: 0.1, default: 3, help: 'spare: how long every worker must be busy (or one idle) before one is spawned (retired); busyness: the window busyness is averaged over; backlog: the listen-queue depth that spawns' },
  { name: 'cheaper-algo', kind: 'enum', arg: 'NAME', section: 'Cheaper', choices: CHEAPER_ALGOS, default: 'spare', help: 'spare: by busy workers; backlog: by the TCP listen queue (Linux); busyness: by average busyness over --cheaper-overload' },
  { name: 'cheaper-busyness-max', kind: 'int', arg: 'PERCENT', section: 'Cheaper', min: 0, max: 100, default: 50, help: 'busyness: spawn --cheaper-step workers when the average busyness is above this' },
  { name: 'cheaper-busyness-min', kind: 'int', arg: 'PERCENT', section: 'Cheaper', min: 0, max: 100, default: 25, help: 'busyness: a window below this is an idle cycle' },
  { name: 'cheaper-busyness-multiplier', kind: 'int', arg: 'N', section: 'Cheaper', min: 1, default: 10, help: 'busyness: idle cycles in a row before one worker is retired' },
  { name: 'cheaper-busyness-penalty', kind: 'int', arg: 'N', section: 'Cheaper', min: 0, default: 1, help: 'busyness: add N to the multiplier when a worker is needed again sooner than it took to retire it' },
  { name: 'cheaper-busyness-backlog-alert', kind: 'int', arg: 'N', section: 'Cheaper', min: 0, default: 33, help: 'busyness: spawn emergency workers when more than N connections wait in the TCP listen queue, checked every second (0: off)' },
  { name: 'cheaper-busyness-backlog-step', kind: 'int', arg: 'N', section: 'Cheaper', min: 1, default: 1, help: 'busyness: emergency workers spawned at a time' },
  { name: 'cheaper-busyness-backlog-multiplier', kind: 'int', arg: 'N', section: 'Cheaper', min: 1, default: 3, help: 'busyness: the multiplier while emergency workers run, so they are retired sooner' },
  { name: 'cheaper-busyness-backlog-nonzero', kind: 'number', arg: 'SECS', section: 'Cheaper', min: 0, default: 60, help: 'busyness: spawn an emergency worker when the TCP listen queue has not been empty for SECS (0: off)' },
  { name: 'cheaper-busyness-verbose', kind: 'flag', section: 'Cheaper', default: false, help: 'busyness: log the average busyness of every window' },
] as const satisfies readonly OptionRow[];

/** `--cheaper 4 (app.ini:3)`: the option, its value and where it was set, for errors naming two options. */
function cited(options: Options, name: keyof Options): string {
  return `--${name} ${String(options[name])} (${optionOrigin(options, name) ?? 'default'})`;
}

function conflict(message: string): Error {
  return tsgiError('TSGI_ERR_CHEAPER_OPTIONS', message);
}

export const CHEAPER_CHECKS: readonly OptionCheck[] = [
  // uWSGI refuses these too: a minimum that is the maximum leaves nothing to decide.
  function cheaperBelowProcesses(options) {
    if (options.cheaper > 0 && options.cheaper >= options.processes) {
      throw conflict(`${cited(options, 'cheaper')} must be lower than ${cited(options, 'processes')}: it is the fewest workers to keep, --processes the most`);
    }
  },
  function initialBetween(options) {
    const initial = options['cheaper-initial'];
    if (initial === undefined) return;
    if (options.cheaper === 0) throw conflict(`${cited(options, 'cheaper-initial')} needs --cheaper N (the fewest workers to keep)`);
    if (initial < options.cheaper || initial > options.processes) {
      throw conflict(`${cited(options, 'cheaper-initial')} must be between ${cited(options, 'cheaper')} and ${cited(options, 'processes')}`);
    }
  },
  function busynessLevels(options) {
    if (options.cheaper > 0 && options['cheaper-algo'] === 'busyness' && options['cheaper-busyness-min'] >= options['cheaper-busyness-max']) {
      throw conflict(`${cited(options, 'cheaper-busyness-min')} must be lower than ${cited(options, 'cheaper-busyness-max')}`);
    }
  },
  // The backlog algorithm reads TCP_INFO; a unix socket's queue is out of its reach.
  function backlogHasTcp(options) {
    if (options.cheaper === 0 || options['cheaper-algo'] !== 'backlog') return;
    const tcp = [...options.socket, ...options['http-socket'], ...options['fastcgi-socket']].some((text) => parseAddress(text).kind === 'tcp');
    if (!tcp) throw conflict(`${cited(options, 'cheaper-algo')} reads the listen queue of a TCP socket, and none is configured (unix sockets do not report theirs)`);
  },
];
