/**
 * Finding the tasks of a spooler directory, in the order they should run: the numeric priority
 * subdirectories first, lowest number first, then the directory itself; within one directory
 * the oldest task first (mtime, which `at` pushes into the future, then name).
 */
import { readdirSync, statSync, unlinkSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { TEMP_PREFIX } from './enqueue.js';
import { SPOOL_FILE_PREFIX } from './spool-file.js';

export interface TaskEntry {
  /** Full path of the spool file. */
  path: string;
  /** Its bare name (`spooler_task_name` in the handler's task). */
  name: string;
  /** When it may run (ms since the epoch): its mtime. */
  readyAt: number;
}

/** A temporary file this old is the remains of a writer that crashed mid-write. */
const STALE_TEMP_MS = 10 * 60_000;

/** Every task in `dir` and its priority subdirectories, in run order. */
export function listTasks(dir: string): TaskEntry[] {
  const entries = readEntries(dir);
  const priorities = entries.filter((entry) => entry.isDirectory() && /^\d+$/.test(entry.name)).map((entry) => entry.name);
  priorities.sort((a, b) => Number(a) - Number(b));
  const tasks: TaskEntry[] = [];
  for (const priority of priorities) tasks.push(...tasksIn(join(dir, priority), readEntries(join(dir, priority))));
  tasks.push(...tasksIn(dir, entries));
  return tasks;
}

function readEntries(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    // A priority directory removed meanwhile has no tasks; a missing spooler dir is the caller's to report.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

function tasksIn(dir: string, entries: Dirent[]): TaskEntry[] {
  const tasks: TaskEntry[] = [];
  const now = Date.now();
  for (const entry of entries) {
    if (entry.name.startsWith(SPOOL_FILE_PREFIX)) {
      const path = join(dir, entry.name);
      const stats = statSync(path, { throwIfNoEntry: false });
      // Gone already (another spooler finished it), or not a regular file: not a task.
      if (stats?.isFile()) tasks.push({ path, name: entry.name, readyAt: stats.mtimeMs });
    } else if (entry.name.startsWith(TEMP_PREFIX)) {
      removeIfStale(join(dir, entry.name), now);
    }
  }
  return tasks.sort((a, b) => a.readyAt - b.readyAt || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function removeIfStale(path: string, now: number): void {
  const stats = statSync(path, { throwIfNoEntry: false });
  // ctime, not mtime: a writer sets the mtime to `at`, which may lie in the past.
  if (stats && now - stats.ctimeMs > STALE_TEMP_MS) {
    try {
      unlinkSync(path);
    } catch {
      // another spooler removed it first
    }
  }
}
