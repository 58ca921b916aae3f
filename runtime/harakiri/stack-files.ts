/**
 * Where the master and a child's stack watchdog meet (--harakiri-verbose): a directory per
 * instance, named after the master's pid, holding per child `<pid>.want` (the master appends
 * to it to ask for a stack) and `<pid>.stack` (the watchdog's answer, renamed into place whole).
 * Files, not IPC: the child's IPC channel is read by its main thread, which is the one stuck.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function stackDir(masterPid: number): string {
  return join(tmpdir(), `tsgi-harakiri-${masterPid}`);
}

export function wantFile(dir: string, pid: number): string {
  return join(dir, `${pid}.want`);
}

export function stackFile(dir: string, pid: number): string {
  return join(dir, `${pid}.stack`);
}

/** Master: only its own user may read what its children were running. */
export function createStackDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

export function removeStackDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The two files of a child that is gone. */
export function removeStackFiles(dir: string, pid: number): void {
  rmSync(wantFile(dir, pid), { force: true });
  rmSync(stackFile(dir, pid), { force: true });
}
