/**
 * uWSGI's cron matching (uWSGI's `core/signal.c`): fields minute, hour, day, month, weekday; -1 = any,
 * -N = every N (value % N == 0); weekday 0 or 7 = Sunday; when both day and weekday are set
 * they are OR-ed, as crontab does.
 */

export type CronFields = [minute: number, hour: number, day: number, month: number, weekday: number];

function fieldMatches(field: number, value: number): boolean {
  if (field === -1) return true;
  if (field < -1) return value % -field === 0;
  return field === value;
}

export function cronMatches([minute, hour, day, month, weekday]: CronFields, now: Date): boolean {
  if (!fieldMatches(minute, now.getMinutes()) || !fieldMatches(hour, now.getHours()) || !fieldMatches(month, now.getMonth() + 1)) return false;
  const dayMatches = fieldMatches(day, now.getDate());
  const sunday = weekday === 7 ? 0 : weekday;
  const weekdayMatches = fieldMatches(sunday, now.getDay());
  return day >= 0 && weekday >= 0 ? dayMatches || weekdayMatches : dayMatches && weekdayMatches;
}

/** Parses `--cron "min hour day month weekday command"` (uWSGI's form). */
export function cronEntry(line: string): [fields: CronFields, command: string] {
  const parts = line.trim().split(/\s+/);
  if (parts.length < 6) throw new Error('expected "minute hour day month weekday command"');
  const fields = parts.slice(0, 5).map((part) => {
    if (!/^-?\d+$/.test(part)) throw new Error(`cron field "${part}" is not a number (-1 = any, -N = every N)`);
    return Number(part);
  }) as CronFields;
  return [fields, parts.slice(5).join(' ')];
}
