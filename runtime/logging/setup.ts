/**
 * Opens the targets the options name and makes the router this process's log sink. Called once
 * at boot by the master or single process (and by each child when `--log-master` is off: each
 * then writes its own lines, as uWSGI's processes do without a log master). Targets are fixed
 * at boot, as uWSGI's loggers are: a reload that re-reads the config keeps them.
 */
import { log, setLogSink } from '../logger.js';
import type { Options } from '../options.js';
import { captureConsole } from './console-capture.js';
import { LogRouter } from './router.js';
import { loggerTarget, logtoTarget, type TargetSpec } from './spec.js';
import { FileTarget, StderrTarget } from './targets/file.js';
import { SyslogTarget } from './targets/syslog.js';
import type { Target } from './targets/target.js';
import { UdpTarget } from './targets/udp.js';

let router: LogRouter | undefined;

/** The router this process logs through, if it set one up. */
export function logRouter(): LogRouter | undefined {
  return router;
}

/**
 * `child`: a child without the log master opening the same files (it never truncates them).
 * `singleProcess`: the app runs here, so its console follows the targets (console-capture.ts).
 */
export function setupLogging(options: Options, child = false, singleProcess = false): LogRouter {
  const truncate = options['log-truncate'] && !child;
  const general = generalSpecs(options).map((spec) => openTarget(spec, truncate));
  const requests = options['req-logger'].map((value) => openTarget(loggerTarget(value), truncate));
  router = new LogRouter({
    general: general.length > 0 ? general : [new StderrTarget()],
    requests,
    date: dateSetting(options['log-date']),
    encoders: options['log-encoder'],
    requestEncoders: options['log-req-encoder'],
  });
  setLogSink(router);
  if (singleProcess && !router.general.some((target) => target instanceof StderrTarget)) captureConsole(router);
  return router;
}

/** Where every line but the request ones goes: `--logto`, `--logto2`, `--daemonize[2]` (in the daemon), `--logger`. */
function generalSpecs(options: Options): TargetSpec[] {
  const daemonLog = process.env.TSGI_DAEMONIZED ? options.daemonize ?? options.daemonize2 : undefined;
  const logto = [options.logto, options.logto2, daemonLog].filter((value): value is string => value !== undefined);
  return [...logto.map(logtoTarget), ...options.logger.map(loggerTarget)];
}

function openTarget(spec: TargetSpec, truncate: boolean): Target {
  switch (spec.type) {
    case 'file': return new FileTarget(spec.path, truncate);
    case 'udp': return new UdpTarget(spec.host, spec.port);
    case 'stderr': return new StderrTarget();
    case 'syslog': return new SyslogTarget(spec.ident, spec.facility);
  }
}

/** `--log-date`: on (ctime), off, or a strftime format. */
function dateSetting(value: string): string | boolean {
  const word = value.trim().toLowerCase();
  if (['true', 'yes', 'on', '1'].includes(word)) return true;
  if (['false', 'no', 'off', '0'].includes(word)) return false;
  return value;
}

/** Reopens every file target (SIGUSR1, `--touch-logreopen`, the master FIFO's `l`); says so once. */
export function reopenLogs(why: string): void {
  if (!router) return;
  router.flush();
  for (const target of router.targets) {
    try {
      target.reopen();
    } catch (error) {
      process.stderr.write(`tsgi: ${why}: cannot reopen ${target.description}: ${(error as Error).message}\n`);
    }
  }
  log(`${why}: log files reopened (${router.targets.map((t) => t.description).join(', ')})`);
}

/** `--log-maxsize`: every file target past `maxBytes` moves to its backup and starts again. */
export function rotateLogs(maxBytes: number, backupName: string | undefined, why?: string): void {
  if (!router) return;
  router.flush();
  for (const target of router.targets) {
    try {
      if (target.rotateIfOver(maxBytes, backupName)) log(`${why ?? `--log-maxsize ${maxBytes}`}: ${target.description} rotated`);
    } catch (error) {
      process.stderr.write(`tsgi: cannot rotate ${target.description}: ${(error as Error).message}\n`);
    }
  }
}
