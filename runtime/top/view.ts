/**
 * One frame of `tsgi top`, as lines cut to the terminal: a summary of the instance, then a row
 * per worker sorted by the key chosen (RPS first, as the busiest worker is what one looks for).
 * Pure: command.ts feeds it a snapshot and writes the lines.
 */
import type { StatsDocument, StatsWorker } from './stats-source.js';

export const SORT_KEYS = ['rps', 'requests', 'rss', 'id'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface Frame {
  address: string;
  document: StatsDocument;
  rates: Map<number, number | undefined>;
  sort: SortKey;
  /** Unix ms, for "last spawn … ago". */
  now: number;
  columns: number;
  rows: number;
  /** Why this frame is old (the last read failed), if it is. */
  problem?: string;
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)}M`;

function ago(seconds: number): string {
  if (seconds < 0 || !Number.isFinite(seconds)) return '-';
  if (seconds < 60) return `${Math.floor(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(Math.floor(seconds % 60)).padStart(2, '0')}s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(seconds / 86400)}d`;
}

const rateText = (rate: number | undefined) => (rate === undefined ? '-' : rate.toFixed(1));

const COLUMNS: ReadonlyArray<{ title: string; width: number; cell: (w: StatsWorker, f: Frame) => string }> = [
  { title: 'WID', width: 4, cell: (w) => String(w.id) },
  { title: 'PID', width: 8, cell: (w) => (w.pid === 0 ? '-' : String(w.pid)) },
  { title: 'STATUS', width: 7, cell: (w) => w.status },
  { title: 'REQ', width: 9, cell: (w) => String(w.requests) },
  { title: 'RPS', width: 8, cell: (w, f) => rateText(f.rates.get(w.id)) },
  { title: 'EXC', width: 6, cell: (w) => String(w.exceptions) },
  { title: 'CORES', width: 9, cell: (w, f) => `${w.busy_cores ?? (w.status === 'busy' ? 1 : 0)}/${f.document.cores_per_worker ?? '?'}` },
  { title: 'AVG', width: 9, cell: (w) => `${(w.avg_rt / 1000).toFixed(1)}ms` },
  { title: 'RSS', width: 9, cell: (w) => mib(w.rss) },
  { title: 'TX', width: 9, cell: (w) => mib(w.tx) },
  { title: 'RESPAWN', width: 8, cell: (w) => String(Math.max(0, w.respawn_count - 1)) },
  { title: 'HARAKIRI', width: 9, cell: (w) => String(w.harakiri_count) },
  { title: 'LAST SPAWN', width: 11, cell: (w, f) => (w.last_spawn === 0 ? '-' : `${ago(f.now / 1000 - w.last_spawn)} ago`) },
];

const ORDER: Record<SortKey, (a: StatsWorker, b: StatsWorker, f: Frame) => number> = {
  rps: (a, b, f) => (f.rates.get(b.id) ?? -1) - (f.rates.get(a.id) ?? -1) || b.requests - a.requests,
  requests: (a, b) => b.requests - a.requests,
  rss: (a, b) => b.rss - a.rss,
  id: () => 0,
};

const row = (cells: string[]) => cells.map((cell, i) => cell.padStart(COLUMNS[i]!.width)).join(' ');

function summary(frame: Frame): string[] {
  const { document, rates } = frame;
  const workers = document.workers;
  const running = workers.filter((w) => w.pid !== 0);
  const busy = running.reduce((sum, w) => sum + (w.busy_cores ?? (w.status === 'busy' ? 1 : 0)), 0);
  const cores = document.cores_per_worker === undefined ? '?' : String(running.length * document.cores_per_worker);
  const known = [...rates.values()].filter((rate): rate is number => rate !== undefined);
  const rps = known.length === 0 ? '-' : known.reduce((sum, rate) => sum + rate, 0).toFixed(1);
  const sum = (pick: (w: StatsWorker) => number) => workers.reduce((total, w) => total + pick(w), 0);
  return [
    `tsgi top ${frame.address}  (tsgi ${document.version}, master pid ${document.pid})  sorted by ${frame.sort}  [s] sort  [q] quit`,
    `workers ${running.length}/${workers.length} running   cores busy ${busy}/${cores}   requests ${sum((w) => w.requests)}   ${rps} req/s   exceptions ${sum((w) => w.exceptions)}   RSS ${mib(sum((w) => w.rss))}`,
    frame.problem === undefined ? '' : `!! ${frame.problem} (retrying every second)`,
  ];
}

export function renderFrame(frame: Frame): string[] {
  const workers = frame.document.workers.slice().sort((a, b) => ORDER[frame.sort](a, b, frame) || a.id - b.id);
  const head = [...summary(frame), row(COLUMNS.map((column) => column.title))];
  const room = Math.max(1, frame.rows - head.length - 1);
  const shown = workers.length > room ? workers.slice(0, room - 1) : workers;
  const lines = [...head, ...shown.map((w) => row(COLUMNS.map((column) => column.cell(w, frame))))];
  if (shown.length < workers.length) lines.push(`… ${workers.length - shown.length} more workers (a taller terminal shows them)`);
  return lines.map((line) => line.slice(0, frame.columns));
}
