/**
 * The contract between the cheaper subsystem (../cheaper.ts) and its algorithms, as uWSGI's
 * `cheaper_algo` function pointer: the subsystem samples the workers once per master pass and
 * acts on what the algorithm decides; the algorithm only keeps its own timers and counters.
 */

/** One worker the cheaper subsystem counts (its slot is not being retired). */
export interface WorkerSample {
  readonly slot: number;
  /** It loaded the app and serves (a booting or respawning slot is neither busy nor idle). */
  readonly ready: boolean;
  /** At least one of its cores is in a request (uWSGI's uwsgi_worker_is_busy). */
  readonly busy: boolean;
  /** Requests it finished over the slot's life (the scoreboard's `requests`). */
  readonly requests: number;
  /** Microseconds its cores spent in finished requests over the slot's life (`running_time`). */
  readonly runningTime: number;
}

export interface CheaperView {
  /** ms since the epoch. */
  readonly now: number;
  /** The counted workers, in slot order. */
  readonly workers: readonly WorkerSample[];
  /** --cheaper and --processes: the algorithm never asks for fewer or more. */
  readonly min: number;
  readonly max: number;
  /** Connections waiting in the TCP listen queues (summed), or undefined without a TCP socket. */
  backlog(): number | undefined;
}

/** What an algorithm wants done in this pass; `reason` starts the log line ("all 2 workers busy for 1 s"). */
export type Decision =
  | { readonly spawn: number; readonly reason: string }
  /** Retire one worker: `slot` if the algorithm knows which (an idle one), else the subsystem picks. */
  | { readonly retire: true; readonly slot?: number; readonly reason: string };

export interface CheaperAlgo {
  /** Called every master pass; most passes decide nothing. */
  decide(view: CheaperView): Decision | undefined;
  /** When it next needs a pass (ms since the epoch), if it is waiting on a timer. */
  nextDue?(now: number): number | undefined;
  /** The subsystem spawned or retired workers (not always what was asked: --processes caps). */
  spawned?(count: number, now: number): void;
  retired?(now: number): void;
  /** Its part of the stats document's `cheaper` object. */
  stats?(): Record<string, unknown>;
}

/** "1 s", "0.5 s", "2.5 s": seconds as options are written. */
export function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}
