/**
 * `tsgi top ADDR`: a live view of an instance's stats server, as uwsgitop and `pm2 monit`
 * give: refreshed every second, on the terminal's alternate screen (the shell's screen comes
 * back on quit). Keys: `s` cycles the sort (rps, requests, rss, id), `q` or Ctrl-C quits.
 * `--once` prints one frame (two reads a second apart, for the rates) and exits, for scripts.
 */
import { isTsgiError, tsgiError } from '../errors.js';
import { RateMeter } from './rates.js';
import { statsSource, type StatsDocument } from './stats-source.js';
import { renderFrame, SORT_KEYS, type SortKey } from './view.js';

const USAGE = 'usage: tsgi top ADDR [--sort rps|requests|rss|id] [--once]   (ADDR: the --stats address, or http://host:port/ under --stats-http)';
const REFRESH_MS = 1000;

interface TopArgs {
  address: string;
  sort: SortKey;
  once: boolean;
}

function parseTopArgs(argv: string[]): TopArgs | undefined {
  const args: Partial<TopArgs> = { sort: 'rps', once: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return void process.stdout.write(`${USAGE}\n`);
    else if (arg === '--once') args.once = true;
    else if (arg === '--sort' && SORT_KEYS.includes(argv[i + 1] as SortKey)) args.sort = argv[++i] as SortKey;
    else if (!arg.startsWith('-') && args.address === undefined) args.address = arg;
    else throw tsgiError('TSGI_ERR_TOP_USAGE', `tsgi top: unexpected ${JSON.stringify(arg)}${arg === '--sort' ? ` (sort by ${SORT_KEYS.join(', ')})` : ''}\n${USAGE}`);
  }
  if (args.address === undefined) throw tsgiError('TSGI_ERR_TOP_USAGE', `tsgi top: which instance? give its stats address\n${USAGE}`);
  return args as TopArgs;
}

/** The terminal while top runs: alternate screen, no cursor, keys one by one. */
class Screen {
  readonly #tty = process.stdout.isTTY === true;

  open(onKey: (key: string) => void): void {
    if (this.#tty) process.stdout.write('\x1b[?1049h\x1b[?25l');
    if (process.stdin.isTTY) process.stdin.setRawMode(true);
    process.stdin.setEncoding('utf8').on('data', (keys: string) => [...keys].forEach(onKey)).resume();
  }

  draw(lines: string[]): void {
    if (this.#tty) process.stdout.write(`\x1b[H${lines.map((line) => `${line}\x1b[K`).join('\r\n')}\x1b[J`);
    else process.stdout.write(`${lines.join('\n')}\n\n`);
  }

  get size(): { columns: number; rows: number } {
    return { columns: process.stdout.columns ?? 160, rows: process.stdout.rows ?? 50 };
  }

  close(): void {
    if (process.stdin.isTTY) process.stdin.setRawMode(false);
    process.stdin.pause();
    if (this.#tty) process.stdout.write('\x1b[?25h\x1b[?1049l');
  }
}

async function live(args: TopArgs, read: () => Promise<StatsDocument>, first: StatsDocument): Promise<void> {
  const meter = new RateMeter();
  const screen = new Screen();
  let document = first;
  let rates = meter.update(document, Date.now());
  let problem: string | undefined;
  let sort = args.sort;
  let reading = false;
  const draw = () => screen.draw(renderFrame({ address: args.address, document, rates, sort, now: Date.now(), ...screen.size, problem }));
  const refresh = async () => {
    if (reading) return; // a slow answer: skip a beat rather than pile up connections
    reading = true;
    try {
      document = await read();
      rates = meter.update(document, Date.now());
      problem = undefined;
    } catch (error) {
      problem = (error as Error).message;
    } finally {
      reading = false;
    }
    draw();
  };
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => void refresh(), REFRESH_MS);
    const quit = () => {
      clearInterval(timer);
      screen.close();
      resolve();
    };
    screen.open((key) => {
      if (key === 'q' || key === 'Q' || key === '\x03') quit();
      else if (key === 's') {
        sort = SORT_KEYS[(SORT_KEYS.indexOf(sort) + 1) % SORT_KEYS.length]!;
        draw();
      }
    });
    process.once('SIGINT', quit).once('SIGTERM', quit);
    process.stdout.on('resize', draw);
    draw();
  });
}

export async function runTop(argv: string[]): Promise<void> {
  try {
    const args = parseTopArgs(argv);
    if (args === undefined) return;
    const read = statsSource(args.address);
    const first = await read(); // an instance top cannot read at all is an error, not a blank screen
    if (args.once) {
      // Two reads a second apart, so the frame has its rates too.
      const meter = new RateMeter();
      meter.update(first, Date.now());
      await new Promise((resolve) => setTimeout(resolve, REFRESH_MS));
      const document = await read();
      const rates = meter.update(document, Date.now());
      process.stdout.write(`${renderFrame({ address: args.address, document, rates, sort: args.sort, now: Date.now(), columns: Infinity, rows: Infinity }).join('\n')}\n`);
      return;
    }
    await live(args, read, first);
    process.exit(0); // stdin's handle and a pending read must not keep the command alive
  } catch (error) {
    process.stderr.write(`${isTsgiError(error) ? `${error.code}: ` : ''}${(error as Error).message}\n`);
    process.exit(1);
  }
}
