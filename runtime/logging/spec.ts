/**
 * What a log target option names, parsed once where it is set (so a bad value names its option,
 * file and line) and again when the targets are opened. uWSGI's syntaxes: `--logto X` is a UDP
 * `host:port` when X holds a colon, else a file; `--logger`/`--req-logger` take `TYPE[:ARGS]`.
 */

export type TargetSpec =
  | { type: 'file'; path: string }
  | { type: 'udp'; host: string; port: number }
  | { type: 'syslog'; ident: string; facility: number }
  | { type: 'stderr' };

/** syslog(3)'s facility numbers, by the names rsyslog and uWSGI's syslog logger accept. */
const FACILITIES: Record<string, number> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};

/** `--logto`, `--logto2`, `--daemonize`: a UDP address when it holds a colon, else a file path. */
export function logtoTarget(value: string): TargetSpec {
  return value.includes(':') ? udpTarget(value) : { type: 'file', path: value };
}

/** `--logger` / `--req-logger`: `file:PATH`, `udp:HOST:PORT` (or uWSGI's `socket:`), `syslog[:IDENT[,FACILITY]]`, `stdio`. */
export function loggerTarget(value: string): TargetSpec {
  const colon = value.indexOf(':');
  const type = colon < 0 ? value : value.slice(0, colon);
  const args = colon < 0 ? '' : value.slice(colon + 1);
  switch (type) {
    case 'file':
      if (args === '') throw new Error('file: needs a path (file:/var/log/app.log)');
      return { type: 'file', path: args };
    case 'udp':
    case 'socket':
      return udpTarget(args);
    case 'syslog': {
      const [ident = '', facility = 'user'] = args.split(',');
      const number = FACILITIES[facility.trim()];
      if (number === undefined) throw new Error(`unknown syslog facility "${facility}" (one of ${Object.keys(FACILITIES).join(', ')})`);
      return { type: 'syslog', ident: ident.trim() || 'tsgi', facility: number };
    }
    case 'stdio':
    case 'stderr':
      return { type: 'stderr' };
    default:
      throw new Error(`unknown logger "${type}": expected file:PATH, udp:HOST:PORT, syslog[:IDENT[,FACILITY]] or stdio`);
  }
}

function udpTarget(address: string): TargetSpec {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = Number(address.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`expected HOST:PORT for a UDP log target, got "${address}"`);
  return { type: 'udp', host, port };
}

/** How a target shows in log lines: `file /var/log/app.log`, `udp 127.0.0.1:1717`, `syslog tsgi`. */
export function describeTarget(spec: TargetSpec): string {
  switch (spec.type) {
    case 'file': return `file ${spec.path}`;
    case 'udp': return `udp ${spec.host}:${spec.port}`;
    case 'syslog': return `syslog ${spec.ident}`;
    case 'stderr': return 'stderr';
  }
}
