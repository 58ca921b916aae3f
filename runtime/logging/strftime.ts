/**
 * strftime(3) in local time, for `--log-date FORMAT`, `%(ftime)` and the encoders'
 * `${strftime:FORMAT}`. A format renders at most once per second ({@link SecondClock}): log
 * lines of the same second reuse the string.
 */

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad = (n: number, width = 2, fill = '0') => String(n).padStart(width, fill);

function offset(date: Date): string {
  const minutes = -date.getTimezoneOffset();
  const sign = minutes < 0 ? '-' : '+';
  return `${sign}${pad(Math.floor(Math.abs(minutes) / 60))}${pad(Math.abs(minutes) % 60)}`;
}

function dayOfYear(date: Date): number {
  return Math.floor((Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()) - Date.UTC(date.getFullYear(), 0, 1)) / 86_400_000) + 1;
}

function field(letter: string, date: Date): string {
  switch (letter) {
    case 'Y': return String(date.getFullYear());
    case 'y': return pad(date.getFullYear() % 100);
    case 'm': return pad(date.getMonth() + 1);
    case 'd': return pad(date.getDate());
    case 'e': return pad(date.getDate(), 2, ' ');
    case 'H': return pad(date.getHours());
    case 'I': return pad(date.getHours() % 12 || 12);
    case 'M': return pad(date.getMinutes());
    case 'S': return pad(date.getSeconds());
    case 'p': return date.getHours() < 12 ? 'AM' : 'PM';
    case 'a': return DAYS[date.getDay()]!;
    case 'b': case 'h': return MONTHS[date.getMonth()]!;
    case 'j': return pad(dayOfYear(date), 3);
    case 'z': return offset(date);
    case 'Z': return Intl.DateTimeFormat('en', { timeZoneName: 'short' }).formatToParts(date).find((part) => part.type === 'timeZoneName')?.value ?? '';
    case 's': return String(Math.floor(date.getTime() / 1000));
    case 'F': return `${field('Y', date)}-${field('m', date)}-${field('d', date)}`;
    case 'T': return `${field('H', date)}:${field('M', date)}:${field('S', date)}`;
    case 'c': return ctime(date);
    case 'n': return '\n';
    case 't': return '\t';
    case '%': return '%';
    default: return `%${letter}`;
  }
}

export function strftime(format: string, date: Date): string {
  return format.replace(/%([a-zA-Z%])/g, (_, letter: string) => field(letter, date));
}

/** ctime(3) without its newline: `Wed Dec  2 22:03:12 2026`, uWSGI's default `--log-date`. */
export function ctime(date: Date): string {
  return `${field('a', date)} ${field('b', date)} ${field('e', date)} ${field('T', date)} ${field('Y', date)}`;
}

/** One format, rendered again only when the second changes. */
export class SecondClock {
  #second = -1;
  #text = '';

  constructor(private readonly render: (date: Date) => string) {}

  /** The rendering of `nowMs` (ms since the epoch), cached for its whole second. */
  at(nowMs: number): string {
    const second = Math.floor(nowMs / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#text = this.render(new Date(second * 1000));
    }
    return this.#text;
  }
}
