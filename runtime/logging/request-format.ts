/**
 * `--log-format`: uWSGI's request log line with `%(name)` placeholders. The format is compiled
 * once into literal parts and variable codes; a request's line is one pass over that array
 * (a switch per placeholder, no closures, no intermediate objects). Times come from the
 * request's start, except `%(epoch)` (now). Unknown names are uWSGI's user logvars: tsgi has no
 * `set_logvar`, so they render empty, as an unset logvar does in uWSGI.
 */
import { readFileSync } from 'node:fs';
import type { Options } from '../options.js';
import { ctime, SecondClock, strftime } from './strftime.js';

/** What a request line is made of: the core's fields the placeholders read. */
export interface LoggedRequest {
  readonly env: Record<string, unknown> | null;
  readonly statusCode: number;
  readonly bytes: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly status: string | null;
  readonly index: number;
  /** performance.now() at the request's start. */
  readonly startedAt: number;
  readonly reporting: { readonly id: number };
}

const NAMES = [
  'uri', 'method', 'user', 'addr', 'host', 'proto', 'uagent', 'referer', 'status', 'micros', 'msecs', 'secs', 'tmsecs',
  'tmicros', 'time', 'ltime', 'ftime', 'ctime', 'epoch', 'size', 'rsize', 'hsize', 'cl', 'pid', 'wid', 'switches', 'vars',
  'core', 'vsz', 'rss', 'vszM', 'rssM', 'pktsize', 'modifier1', 'modifier2', 'headers', 'werr', 'rerr', 'ioerr',
] as const;

const CODE = new Map<string, number>(NAMES.map((name, i) => [name, i]));

/** An env key (`%(var.NAME)`): a part is a literal, a variable code, or one of these. */
class EnvVar {
  constructor(readonly key: string) {}
}

type Part = string | number | EnvVar | null;

const APACHE_TIME = '%d/%b/%Y:%H:%M:%S %z';
const PAGE_SIZE = 4096;

export class RequestFormat {
  readonly #parts: Part[] = [];
  readonly #ltime = new SecondClock((date) => strftime(APACHE_TIME, date));
  readonly #ctime = new SecondClock(ctime);
  readonly #ftime: SecondClock;

  constructor(format: string, ftimeFormat = '%Y-%m-%d %H:%M:%S') {
    this.#ftime = new SecondClock((date) => strftime(ftimeFormat, date));
    let last = 0;
    for (const match of format.matchAll(/%\(([^)]+)\)/g)) {
      if (match.index > last) this.#parts.push(format.slice(last, match.index));
      const name = match[1]!;
      if (name.startsWith('var.')) this.#parts.push(new EnvVar(name.slice(4)));
      else this.#parts.push(CODE.get(name) ?? null); // null: an unset logvar, or metric.NAME
      last = match.index + match[0].length;
    }
    if (last < format.length) this.#parts.push(format.slice(last));
  }

  render(request: LoggedRequest): string {
    let line = '';
    for (const part of this.#parts) {
      if (typeof part === 'string') line += part;
      else if (typeof part === 'number') line += this.#value(part, request);
      else if (part !== null) line += text(request.env?.[part.key]);
    }
    return line;
  }

  #value(part: number, request: LoggedRequest): string | number {
    const env = request.env ?? {};
    switch (NAMES[part]) {
      case 'uri': return text(env.REQUEST_URI ?? env.PATH_INFO);
      case 'method': return text(env.REQUEST_METHOD);
      case 'user': return text(env.REMOTE_USER);
      case 'addr': return text(env.REMOTE_ADDR);
      case 'host': return text(env.HTTP_HOST);
      case 'proto': return text(env.SERVER_PROTOCOL);
      case 'uagent': return text(env.HTTP_USER_AGENT);
      case 'referer': return text(env.HTTP_REFERER);
      case 'status': return request.statusCode;
      case 'micros': return Math.round((performance.now() - request.startedAt) * 1000);
      case 'msecs': return Math.round(performance.now() - request.startedAt);
      case 'secs': return ((performance.now() - request.startedAt) / 1000).toFixed(4);
      case 'tmsecs': return Math.floor(startMs(request));
      case 'tmicros': return Math.floor(startMs(request) * 1000);
      case 'time': return Math.floor(startMs(request) / 1000);
      case 'ltime': return this.#ltime.at(startMs(request));
      case 'ftime': return this.#ftime.at(startMs(request));
      case 'ctime': return this.#ctime.at(startMs(request));
      case 'epoch': return Math.floor(Date.now() / 1000);
      case 'size': return request.bytes;
      case 'rsize': case 'cl': return Number(env.CONTENT_LENGTH) || 0;
      case 'hsize': return headersSize(request);
      case 'pid': return process.pid;
      case 'wid': return request.reporting.id;
      case 'vars': return Object.keys(env).length;
      case 'core': return request.index;
      case 'headers': return request.headers.length;
      case 'rss': return process.memoryUsage.rss();
      case 'rssM': return Math.round(process.memoryUsage.rss() / 1048576);
      case 'vsz': return virtualSize();
      case 'vszM': return Math.round(virtualSize() / 1048576);
      case 'modifier1': return Number(env['uwsgi.modifier1'] ?? 0);
      case 'modifier2': return Number(env['uwsgi.modifier2'] ?? 0);
      default: return 0; // switches, pktsize, werr, rerr, ioerr: not counted per request here
    }
  }
}

function text(value: unknown): string {
  return typeof value === 'string' && value !== '' ? value : '-';
}

function startMs(request: LoggedRequest): number {
  return performance.timeOrigin + request.startedAt;
}

/** The response head's size as written: status line, `Name: value\r\n` each, the blank line. */
function headersSize(request: LoggedRequest): number {
  let size = 9 + (request.status?.length ?? 3) + 2 + 2; // "HTTP/1.1 " status CRLF … CRLF
  for (const [name, value] of request.headers) size += name.length + value.length + 4;
  return size;
}

function virtualSize(): number {
  try {
    return Number(readFileSync('/proc/self/statm', 'latin1').split(' ')[0]) * PAGE_SIZE;
  } catch {
    return 0;
  }
}

/** The worker's compiled `--log-format`, or undefined for uWSGI's default line. */
export function compileRequestFormat(options: Options): RequestFormat | undefined {
  const format = options['log-format'];
  return format === undefined ? undefined : new RequestFormat(format, options['log-format-strftime']);
}
