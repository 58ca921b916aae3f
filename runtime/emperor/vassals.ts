/**
 * The vassal table: one vassal per config file, kept in step with what the monitors see (spec
 * §1.2). A new file spawns (unless its name is throttled), a newer mtime sends a graceful
 * reload, a removed file (or, for a tyrant, a new owner) stops its vassal, which is forgotten
 * once it exits; a vassal that dies on its own is respawned by the next scan, which runs at
 * once — after its throttle if it never was loyal. A stopping vassal is killed after the curse
 * tolerance, a silent one after the required heartbeat.
 *
 * Not a ChildPool: vassals are keyed by file, their reloads happen inside them (the vassal's own
 * master swaps its workers, ready-gated, and says so on the pipe), and their respawn rule is
 * uWSGI's loyalty blacklist rather than the pool's fast-death back-off.
 */
import { log, logError } from '../logger.js';
import type { Options } from '../options.js';
import { isTsgiError } from '../errors.js';
import { launchVassal } from './launch.js';
import { scan, type Monitor, type VassalFile } from './monitor.js';
import { FORGET_ME_EXIT, TO_VASSAL } from './protocol.js';
import { Blacklist } from './throttle.js';
import { Vassal } from './vassal.js';

/** What stays known of a file across its vassal's lives (stats: respawns, last mod). */
interface FileRecord {
  mtimeMs: number;
  respawns: number;
  /** Exited with 26, or asked to stop: not respawned until the file changes. */
  forgottenAt?: number;
}

export class VassalTable {
  readonly #running = new Map<string, Vassal>();
  readonly #files = new Map<string, FileRecord>();
  readonly blacklist: Blacklist;
  #scanSoon = true;
  #stopping = false;
  /** Names whose tyrant refusal was logged already (one line, not one per scan). */
  readonly #refused = new Set<string>();

  constructor(private readonly options: Options, private readonly monitors: readonly Monitor[], private readonly wake: () => void) {
    this.blacklist = new Blacklist(options['emperor-throttle'], options['emperor-max-throttle']);
  }

  vassals(): Vassal[] {
    return [...this.#running.values()];
  }

  record(path: string): FileRecord | undefined {
    return this.#files.get(path);
  }

  get alive(): number {
    return this.#running.size;
  }

  /** A scan on the next cycle (a vassal exited). */
  scanSoon(): void {
    this.#scanSoon = true;
    this.wake();
  }

  /** Whether a scan is due now (one was asked for, or the frequency passed). */
  takeScanRequest(): boolean {
    const asked = this.#scanSoon;
    this.#scanSoon = false;
    return asked;
  }

  /** One scan of every monitor, and what it means for each file; returns when a throttled spawn is due. */
  sync(now: number): number {
    if (this.#stopping) return 0;
    const seen = new Map<string, VassalFile>();
    for (const monitor of this.monitors) for (const file of scan(monitor)) if (!seen.has(file.path)) seen.set(file.path, file);
    for (const [path, vassal] of this.#running) {
      if (vassal.stopping) continue;
      const file = seen.get(path);
      if (file === undefined) this.stop(vassal, 'its file was removed', this.options['emperor-graceful-shutdown']);
      else if (this.options['emperor-tyrant'] && (file.uid !== vassal.file.uid || file.gid !== vassal.file.gid)) this.stop(vassal, `its file changed owner to ${file.uid}:${file.gid}`, false);
      else if (file.mtimeMs > this.#files.get(path)!.mtimeMs) {
        this.#files.get(path)!.mtimeMs = file.mtimeMs;
        this.#reload(vassal, 'its file changed');
      }
    }
    let next = 0;
    for (const [path, file] of seen) {
      if (this.#running.has(path)) continue;
      const known = this.#files.get(path);
      if (known?.forgottenAt !== undefined && file.mtimeMs <= known.mtimeMs) continue;
      const at = this.blacklist.allowedAt(file.path);
      if (now < at) {
        next = next === 0 ? at : Math.min(next, at);
        continue;
      }
      this.#spawn(file, known);
    }
    for (const path of this.#files.keys()) if (!seen.has(path) && !this.#running.has(path)) this.#files.delete(path);
    return next;
  }

  #spawn(file: VassalFile, known: FileRecord | undefined): void {
    let vassal: Vassal;
    try {
      vassal = new Vassal(file, launchVassal(this.options, file), {
        loyal: (v) => this.blacklist.remove(v.file.path),
        stopMe: (v) => this.#forget(v, 'it asked to be stopped'),
        exited: (v, code, signal) => this.#exited(v, code, signal),
      });
    } catch (error) {
      if (!isTsgiError(error, 'TSGI_ERR_EMPEROR_TYRANT')) return logError(`cannot spawn a vassal for ${file.path}`, error);
      if (!this.#refused.has(file.path)) log(`${(error as Error).message} [${(error as { code: string }).code}]`);
      this.#refused.add(file.path);
      return;
    }
    this.#refused.delete(file.path);
    const record: FileRecord = known === undefined ? { mtimeMs: file.mtimeMs, respawns: 0 } : { mtimeMs: file.mtimeMs, respawns: known.respawns + 1 };
    this.#files.set(file.path, record);
    this.#running.set(file.path, vassal);
    log(`spawned ${vassal.label}${record.respawns > 0 ? ` (respawn ${record.respawns})` : ''}${this.options['emperor-tyrant'] ? ` as uid ${file.uid} gid ${file.gid}` : ''}`);
  }

  #reload(vassal: Vassal, why: string): void {
    vassal.reloading = true;
    vassal.ready = false;
    if (vassal.send(TO_VASSAL.RELOAD)) log(`${vassal.label}: ${why}, graceful reload`);
  }

  /** Stops a vassal (byte 2 graceful, byte 0 otherwise); it is forgotten once it exits. */
  stop(vassal: Vassal, why: string, graceful: boolean): void {
    if (vassal.stopping) return;
    vassal.stopping = true;
    vassal.curse(Date.now());
    log(`${vassal.label}: ${why}, ${graceful ? 'graceful stop' : 'stop'}`);
    if (!vassal.send(graceful ? TO_VASSAL.GRACEFUL_STOP : TO_VASSAL.STOP)) vassal.process.kill('SIGTERM');
  }

  #forget(vassal: Vassal, why: string): void {
    const record = this.#files.get(vassal.file.path);
    if (record) record.forgottenAt = Date.now();
    this.stop(vassal, `${why} (not respawned until its file changes)`, true);
  }

  #exited(vassal: Vassal, code: number | null, signal: NodeJS.Signals | null): void {
    this.#running.delete(vassal.file.path);
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    if (vassal.stopping) log(`${vassal.label} stopped (${how})`);
    else if (code === FORGET_ME_EXIT) {
      const record = this.#files.get(vassal.file.path);
      if (record) record.forgottenAt = Date.now();
      log(`${vassal.label} exited with code ${FORGET_ME_EXIT}: forgotten until its file changes`);
    } else if (!vassal.loyal) {
      const entry = this.blacklist.add(vassal.file.path, Date.now());
      log(`${vassal.label} died (${how}) before it was loyal: next spawn in ${entry.throttleMs / 1000} s (attempt ${entry.attempts})`);
    } else log(`${vassal.label} died (${how}): respawning`);
    this.scanSoon();
  }

  /** Kills cursed vassals past the tolerance and silent ones past the heartbeat; returns the next due time. */
  police(now: number): number {
    let next = 0;
    const sooner = (at: number) => void (next = next === 0 ? at : Math.min(next, at));
    const tolerance = this.options['emperor-curse-tolerance'] * 1000;
    const heartbeat = this.options['emperor-required-heartbeat'] * 1000;
    for (const vassal of this.#running.values()) {
      if (vassal.cursedAt > 0) {
        if (now - vassal.cursedAt >= tolerance) {
          log(`${vassal.label} still running ${this.options['emperor-curse-tolerance']} s after its curse: killing it`);
          vassal.cursedAt = now; // one kill, one line; a vassal not asked to stop is respawned
          vassal.kill();
        } else sooner(vassal.cursedAt + tolerance);
      } else if (vassal.lastHeartbeat > 0) {
        if (now - vassal.lastHeartbeat > heartbeat) {
          log(`${vassal.label} sent no heartbeat in ${this.options['emperor-required-heartbeat']} s: killing it (respawned)`);
          vassal.lastHeartbeat = 0;
          vassal.kill();
        } else sooner(vassal.lastHeartbeat + heartbeat + 1);
      }
    }
    return next;
  }

  /** SIGHUP: every vassal reloads gracefully. */
  reloadAll(): void {
    for (const vassal of this.#running.values()) if (!vassal.stopping) this.#reload(vassal, 'the Emperor reloads');
  }

  /** SIGTERM: every vassal stops gracefully, none is respawned. */
  stopAll(graceful: boolean): void {
    this.#stopping = true;
    for (const vassal of this.#running.values()) this.stop(vassal, 'the Emperor stops', graceful);
  }

  killAll(): void {
    this.#stopping = true;
    for (const vassal of this.#running.values()) {
      vassal.stopping = true;
      vassal.kill();
    }
  }
}
