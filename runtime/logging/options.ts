/**
 * The logging rows of the option table (runtime/options.ts), with uWSGI's names and meanings.
 * Target and encoder values are parsed where they are set, so a bad one names its option, file
 * and line. (`--disable-logging` stays with the table's own rows.)
 */
import type { OptionRow } from '../options.js';
import { parseEncoder } from './encoder.js';
import { loggerTarget, logtoTarget } from './spec.js';

const checkLogto = (value: string) => void logtoTarget(value);
const checkLogger = (value: string) => void loggerTarget(value);
const checkEncoder = (value: string) => void parseEncoder(value);

export const LOG_ROWS = [
  { name: 'logto', kind: 'string', arg: 'FILE|HOST:PORT', section: 'Logging', check: checkLogto, help: 'log to FILE (appended) or, when it holds a colon, to a UDP HOST:PORT (one datagram a line), instead of stderr' },
  { name: 'logto2', kind: 'string', arg: 'FILE|HOST:PORT', section: 'Logging', check: checkLogto, help: 'as --logto, opened after privileges are dropped in uWSGI; tsgi\'s master keeps its privileges, so the same as --logto' },
  { name: 'logger', kind: 'string', arg: 'TYPE[:ARGS]', section: 'Logging', repeatable: true, check: checkLogger, help: 'another log target: file:PATH, udp:HOST:PORT, syslog[:IDENT[,FACILITY]] (/dev/log; TSGI_SYSLOG_SOCKET points elsewhere) or stdio; several at once get every line' },
  { name: 'req-logger', aliases: ['logger-req'], kind: 'string', arg: 'TYPE[:ARGS]', section: 'Logging', repeatable: true, check: checkLogger, help: 'a target for the request lines only (same types as --logger); with one, request lines leave the other targets' },
  { name: 'log-master', kind: 'flag', section: 'Logging', default: true, help: 'the master collects the children\'s stdout, stderr and log lines through pipes, whole lines only, app output tagged with its source (on by default; --log-master=false: each process writes its own)' },
  { name: 'log-date', aliases: ['logdate'], kind: 'string', arg: '[FORMAT]', whenBare: 'true', section: 'Logging', default: 'true', help: 'stamp tsgi\'s own lines with the date: ctime(3) and " - " (true, the default), a strftime FORMAT, or false' },
  { name: 'log-format', aliases: ['logformat'], kind: 'string', arg: 'FORMAT', section: 'Logging', verbatim: true, help: 'the request line with uWSGI\'s %(name) variables (never config placeholders): uri method user addr host proto uagent referer status micros msecs secs tmsecs tmicros time ltime ftime ctime epoch size rsize hsize cl pid wid core headers rss vsz … and %(var.NAME)' },
  { name: 'log-format-strftime', kind: 'string', arg: 'FORMAT', section: 'Logging', default: '%Y-%m-%d %H:%M:%S', help: 'the strftime format of %(ftime) in --log-format' },
  { name: 'log-encoder', kind: 'string', arg: 'NAME [ARGS]', section: 'Logging', repeatable: true, check: checkEncoder, help: 'encode each line for the general targets, in order: json [TEMPLATE] (default {"unix":${unix},"msg":"${msg}"}), format TEMPLATE, prefix TEXT, suffix TEXT, nl; ${msg} ${unix} ${millis} ${micros} ${strftime:FMT}' },
  { name: 'log-req-encoder', kind: 'string', arg: 'NAME [ARGS]', section: 'Logging', repeatable: true, check: checkEncoder, help: 'as --log-encoder, for the request lines' },
  { name: 'log-maxsize', kind: 'int', arg: 'BYTES', section: 'Logging', default: 0, min: 0, help: 'the master renames a log file grown past BYTES to FILE.<unix time> (or --log-backupname) and starts a new one, checked every second (0: never)' },
  { name: 'log-backupname', kind: 'string', arg: 'FILE', section: 'Logging', help: 'the name a --log-maxsize rotation renames the log file to (replaced each time)' },
  { name: 'log-truncate', kind: 'flag', section: 'Logging', default: false, help: 'empty the log files at start instead of appending' },
  { name: 'log-reopen', kind: 'flag', section: 'Logging', default: false, help: 'reopen the log files on every reload (SIGUSR1, --touch-logreopen and the master FIFO\'s l always do)' },
  { name: 'touch-logreopen', kind: 'string', arg: 'FILE', section: 'Logging', repeatable: true, help: 'reopen the log files when FILE is touched (as logrotate\'s postrotate can)' },
  { name: 'daemonize', kind: 'string', arg: 'FILE|HOST:PORT', section: 'Logging', check: checkLogto, help: 'detach from the terminal (the command returns once the daemon runs) and log to FILE or UDP HOST:PORT' },
  { name: 'daemonize2', kind: 'string', arg: 'FILE|HOST:PORT', section: 'Logging', check: checkLogto, help: 'as --daemonize, detaching only once the app is loaded and the workers are ready (a boot failure shows in the terminal and the exit code)' },
] as const satisfies readonly OptionRow[];
