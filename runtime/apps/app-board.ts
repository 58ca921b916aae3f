/**
 * Each worker's apps in the shared region, so the master's stats server lists them per worker
 * as uWSGI does (`workers[].apps[]`: id, modifier1, mountpoint, startup_time, requests,
 * exceptions, chdir) without asking the workers. A worker owns its slot alone (one writer, so
 * plain stores); a fresh worker clears it, as a respawned uWSGI worker loads its apps anew.
 *
 * Slot of worker W: `max-apps` records of RECORD_BYTES:
 *   0 f64 requests   8 f64 exceptions   16 f64 startup_time (s)   24 u32 state   28 u32 mountpoint bytes
 *   32 mountpoint (UTF-8, ≤ 255 bytes)
 */
import type { Area } from '../shared/region.js';
import { MAX_MOUNTPOINT_BYTES } from './mount-spec.js';

const RECORD_BYTES = 32 + 256;
const READY = 1;

/** One app as the stats server shows it (uWSGI's key names and order). */
export interface AppStats {
  id: number;
  modifier1: number;
  mountpoint: string;
  startup_time: number;
  requests: number;
  exceptions: number;
  chdir: string;
}

export function appBoardSize(workers: number, maxApps: number): number {
  return workers * maxApps * RECORD_BYTES;
}

/** The counters of one app in one worker: what the request path touches. */
export class AppCounters {
  readonly #f: Float64Array;

  constructor(area: Area, offset: number) {
    this.#f = new Float64Array(area.buffer, area.byteOffset + offset, 3);
  }

  countRequest(): void {
    this.#f[0]!++;
  }

  countException(): void {
    this.#f[1]!++;
  }

  get requests(): number {
    return this.#f[0]!;
  }

  get exceptions(): number {
    return this.#f[1]!;
  }
}

export class AppBoard {
  readonly #bytes: Uint8Array;
  readonly #words: DataView;

  constructor(readonly area: Area, readonly maxApps: number) {
    this.#bytes = new Uint8Array(area.buffer, area.byteOffset, area.byteLength);
    this.#words = new DataView(area.buffer, area.byteOffset, area.byteLength);
  }

  #offset(workerId: number, appId: number): number {
    return ((workerId - 1) * this.maxApps + appId) * RECORD_BYTES;
  }

  /** A new worker process in slot `workerId`: its predecessor's apps are gone with it. */
  clear(workerId: number): void {
    const start = this.#offset(workerId, 0);
    this.#bytes.fill(0, start, start + this.maxApps * RECORD_BYTES);
  }

  /** Publishes app `appId` of worker `workerId`; returns its counters. */
  add(workerId: number, appId: number, mountpoint: string, startupSeconds: number): AppCounters {
    const at = this.#offset(workerId, appId);
    const name = Buffer.from(mountpoint).subarray(0, MAX_MOUNTPOINT_BYTES);
    this.#bytes.fill(0, at, at + RECORD_BYTES);
    this.#bytes.set(name, at + 32);
    this.#words.setFloat64(at + 16, startupSeconds, true);
    this.#words.setUint32(at + 28, name.length, true);
    this.#words.setUint32(at + 24, READY, true);
    return new AppCounters(this.area, at);
  }

  /** Worker `workerId`'s apps, in id order. */
  read(workerId: number): AppStats[] {
    const apps: AppStats[] = [];
    for (let id = 0; id < this.maxApps; id++) {
      const at = this.#offset(workerId, id);
      if (this.#words.getUint32(at + 24, true) !== READY) continue;
      const length = Math.min(this.#words.getUint32(at + 28, true), MAX_MOUNTPOINT_BYTES);
      apps.push({
        id, modifier1: 0, mountpoint: Buffer.from(this.#bytes.subarray(at + 32, at + 32 + length)).toString(),
        startup_time: this.#words.getFloat64(at + 16, true), requests: this.#words.getFloat64(at, true),
        exceptions: this.#words.getFloat64(at + 8, true), chdir: '',
      });
    }
    return apps;
  }
}
