/**
 * The Emperor's blacklist (spec §1.4): a vassal that dies without ever having been loyal (it
 * never served a request) is not respawned until its throttle has passed since its last
 * attempt. The throttle starts at --emperor-throttle and grows by it with each further unloyal
 * death, up to --emperor-max-throttle, past which it is halved; a loyal byte clears the name.
 * So a broken vassal costs one spawn per throttle period and never spins.
 */
export interface BlacklistEntry {
  throttleMs: number;
  attempts: number;
  firstAttempt: number;
  lastAttempt: number;
}

export class Blacklist {
  readonly #entries = new Map<string, BlacklistEntry>();

  constructor(private readonly throttleMs: number, private readonly maxThrottleMs: number) {}

  /** An unloyal death of `name` at `now`; returns its entry (the log says the new throttle). */
  add(name: string, now: number): BlacklistEntry {
    const entry = this.#entries.get(name);
    if (entry === undefined) {
      const added = { throttleMs: this.throttleMs, attempts: 1, firstAttempt: now, lastAttempt: now };
      this.#entries.set(name, added);
      return added;
    }
    entry.lastAttempt = now;
    entry.attempts++;
    entry.throttleMs = entry.throttleMs < this.maxThrottleMs ? entry.throttleMs + this.throttleMs : Math.floor(entry.throttleMs / 2);
    return entry;
  }

  remove(name: string): void {
    this.#entries.delete(name);
  }

  /** When `name` may be spawned again (0: now). */
  allowedAt(name: string): number {
    const entry = this.#entries.get(name);
    return entry === undefined ? 0 : entry.lastAttempt + entry.throttleMs;
  }

  entries(): Array<[string, BlacklistEntry]> {
    return [...this.#entries];
  }
}
