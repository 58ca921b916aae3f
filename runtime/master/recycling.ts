/**
 * Recycling (uWSGI's worker lifecycle limits, semantics.md §9): the master replaces a worker
 * that served --max-requests (it asks, with a `recycle` act), ran for --max-worker-lifetime, or
 * grew to --reload-on-rss, and kills one that grew to --evil-reload-on-rss.
 *
 * A graceful recycle is {@link ChildPool.replace}: the replacement starts, the old worker serves
 * on until it is ready, then stops accepting, finishes its requests and exits, so a recycle
 * never cuts a request nor leaves a slot without a serving worker. --min-worker-lifetime holds
 * back the max-requests and rss recycles of a young worker (a request that came too early is
 * kept and carried out once the worker is old enough); the lifetime limit is itself older.
 * The per-worker deltas spread the recycles, so the workers never all restart at once.
 */
import { log } from '../logger.js';
import { processMemory } from '../stats/memory.js';
import type { Child, ChildPool } from './child-pool.js';
import type { ChildPeer, MasterHost, StatsRows, Subsystem } from './subsystem.js';

const MB = 1024 * 1024;

type Reason = 'max_requests' | 'max_worker_lifetime' | 'reload_on_rss' | 'evil_reload_on_rss';

export class Recycling implements Subsystem {
  readonly name = 'recycling';
  #pool: ChildPool | null = null;
  #lifetimeMs = 0;
  #lifetimeDeltaMs = 0;
  #minLifetimeMs = 0;
  #rssLimit = 0;
  #evilRssLimit = 0;
  /** Workers that asked to be recycled while too young: pid → why. */
  readonly #asked = new Map<number, string>();
  /** Workers SIGKILLed for --evil-reload-on-rss, whose exit is on its way. */
  readonly #killed = new WeakSet<Child>();
  readonly #count: Record<Reason, number> = { max_requests: 0, max_worker_lifetime: 0, reload_on_rss: 0, evil_reload_on_rss: 0 };

  readonly handlers = {
    recycle: (message: { reason: string }, from: ChildPeer) => this.#asked.set(from.pid, message.reason),
  };

  start(host: MasterHost): void {
    const { options } = host;
    this.#pool = host.subsystem<Subsystem>('workers')?.children ?? null;
    this.#lifetimeMs = options['max-worker-lifetime'] * 1000;
    this.#lifetimeDeltaMs = options['max-worker-lifetime-delta'] * 1000;
    this.#minLifetimeMs = options['min-worker-lifetime'] * 1000;
    this.#rssLimit = options['reload-on-rss'] * MB;
    this.#evilRssLimit = options['evil-reload-on-rss'] * MB;
  }

  /** Checks every worker; returns when the next lifetime or min-lifetime wait ends. */
  cycle(now: number): number | void {
    const pool = this.#pool;
    if (pool === null) return;
    let next = 0;
    const sooner = (at: number) => void (next = next === 0 ? at : Math.min(next, at));
    if (this.#evilRssLimit > 0) for (const child of pool.children()) this.#checkEvilRss(child);
    for (const child of pool.current()) {
      if (child.state !== 'ready') continue;
      const due = this.#check(pool, child, now);
      if (due > 0) sooner(due);
    }
    for (const pid of this.#asked.keys()) if (pool.find(pid)?.state !== 'ready') this.#asked.delete(pid); // replaced or gone
    return next === 0 ? undefined : next;
  }

  /** Recycles `child` if a limit says so; else returns when it should be looked at again (0: no hurry). */
  #check(pool: ChildPool, child: Child, now: number): number {
    const lived = now - child.spawnedAt;
    if (this.#lifetimeMs > 0) {
      const lifetime = this.#lifetimeMs + (child.slot - 1) * this.#lifetimeDeltaMs;
      if (lived >= lifetime) return this.#recycle(pool, child, 'max_worker_lifetime', `worker ${child.slot} lifetime reached, it was running for ${Math.floor(lived / 1000)} second(s)`);
    }
    const why = this.#asked.get(child.pid) ?? this.#rssReason(child);
    if (why !== undefined) {
      if (lived < this.#minLifetimeMs) return child.spawnedAt + this.#minLifetimeMs;
      return this.#recycle(pool, child, this.#asked.has(child.pid) ? 'max_requests' : 'reload_on_rss', `...The work of process ${child.pid} (worker ${child.slot}) is done (${why}). Seeya!`);
    }
    return this.#lifetimeMs > 0 ? child.spawnedAt + this.#lifetimeMs + (child.slot - 1) * this.#lifetimeDeltaMs : 0;
  }

  #rssReason(child: Child): string | undefined {
    if (this.#rssLimit === 0) return undefined;
    const [rss] = processMemory(child.pid);
    return rss >= this.#rssLimit ? `reload-on-rss limit reached (${mb(rss)} MB >= ${mb(this.#rssLimit)} MB)` : undefined;
  }

  #recycle(pool: ChildPool, child: Child, reason: Reason, line: string): number {
    this.#asked.delete(child.pid);
    // Said before the replacement's spawn line: cause, then effect. A ready current child is
    // always replaceable (the pool refuses only stopping or removed ones, which are not ready).
    log(line);
    if (pool.replace(child.slot)) this.#count[reason]++;
    return 0;
  }

  /** --evil-reload-on-rss: no waiting for requests or a replacement (the pool respawns it). */
  #checkEvilRss(child: Child): void {
    if (child.state === 'dead' || this.#killed.has(child)) return;
    const [rss] = processMemory(child.pid);
    if (rss < this.#evilRssLimit) return;
    this.#killed.add(child);
    this.#count.evil_reload_on_rss++;
    log(`worker ${child.slot} (pid ${child.pid}): evil-reload-on-rss limit reached (${mb(rss)} MB >= ${mb(this.#evilRssLimit)} MB): killing it (SIGKILL)`);
    child.process.kill('SIGKILL');
  }

  childExited(pid: number): void {
    this.#asked.delete(pid);
  }

  /** How many workers were recycled, by reason (not a uWSGI key: uWSGI only counts respawns). */
  stats(): StatsRows {
    return { recycles: { ...this.#count } };
  }
}

function mb(bytes: number): number {
  return Math.round(bytes / MB);
}
