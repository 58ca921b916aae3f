/**
 * The one-byte pipe protocol between an Emperor and its vassals (spec §1.3), byte for byte as
 * uWSGI 2.0 speaks it, so a tsgi Emperor runs uWSGI vassals and a uWSGI Emperor runs tsgi ones.
 * The vassal finds its end of the socketpair in `UWSGI_EMPEROR_FD`.
 */

/** Emperor → vassal. */
export const TO_VASSAL = {
  /** Stop now (uWSGI's kill_them_all: workers are interrupted). */
  STOP: 0,
  /** Reload gracefully. */
  RELOAD: 1,
  /** Stop gracefully: in-flight requests finish. */
  GRACEFUL_STOP: 2,
} as const;

/** Vassal → Emperor. */
export const TO_EMPEROR = {
  /** Spawned: every worker is up (after start and after each reload). */
  READY: 1,
  /** Push my config again (a config pipe tsgi does not use). */
  CONFIG: 2,
  /** Worker 1 accepts requests. */
  ACCEPTING: 5,
  /** Loyal: the first request was served (an Emperor that is itself a vassal sends it at start). */
  LOYAL: 17,
  /** Idle (--die-on-idle): stop me. */
  STOP_ME: 22,
  /** Still alive (--heartbeat). */
  HEARTBEAT: 26,
  /** Broodlord: send reinforcements. */
  REINFORCEMENTS: 30,
} as const;

export const EMPEROR_FD_ENV = 'UWSGI_EMPEROR_FD';

/** An exit code that asks the Emperor to forget the vassal instead of respawning it (uWSGI's 26). */
export const FORGET_ME_EXIT = 26;

export function byte(value: number): Buffer {
  return Buffer.of(value);
}
