/**
 * Under --stats-http the stats server reads the request head, so that one address answers both
 * the stats JSON and `/metrics`. uWSGI writes its JSON at once without reading; a client that
 * sends nothing (nc, a raw-socket reader) still gets it here, after a second of silence.
 */
import type { Socket } from 'node:net';

export interface StatsRequest {
  path: string;
  accept: string | undefined;
}

const SILENCE_MS = 1000;
/** A head longer than this is no scraper's: answer with what arrived. */
const MAX_HEAD = 16 * 1024;

function parseHead(head: string): StatsRequest | null {
  const [requestLine = '', ...lines] = head.split(/\r?\n/);
  const target = /^[A-Z]+ (\S+)/.exec(requestLine)?.[1];
  if (target === undefined) return null;
  const accept = lines.find((line) => /^accept:/i.test(line))?.slice('accept:'.length).trim();
  return { path: target.split('?', 1)[0]!, accept };
}

/** Calls `answer` once: with the request, or with null after silence, a bad head or the client's end. */
export function readStatsRequest(socket: Socket, answer: (request: StatsRequest | null) => void): void {
  let head = '';
  let answered = false;
  const finish = (request: StatsRequest | null) => {
    if (answered) return;
    answered = true;
    clearTimeout(timer);
    socket.removeAllListeners('data');
    answer(request);
  };
  const timer = setTimeout(() => finish(null), SILENCE_MS);
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    head += chunk;
    if (/\r?\n\r?\n/.test(head) || head.length > MAX_HEAD) finish(parseHead(head));
  });
  socket.on('end', () => finish(parseHead(head)));
  socket.on('close', () => finish(null));
}
