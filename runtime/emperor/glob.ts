/**
 * glob(3) as the Emperor's glob monitor uses it (`/etc/uwsgi/*.ini`, `/var/apps/*\/*\/config.*`):
 * `*`, `?` and `[…]` within one path segment, no `**`, dot files matched only by a pattern that
 * starts with a dot. Node 20 has no fs.glob, and one directory listing per wildcard segment is
 * all a scan every few seconds needs.
 */
import { readdirSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

const WILDCARD = /[*?[]/;

/** The pattern segment as a regular expression (glob(3) without flags). */
function segmentPattern(segment: string): RegExp {
  let source = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const close = segment.indexOf(']', i + 2);
      if (close < 0) source += '\\[';
      else {
        const body = segment.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\');
        source += `[${body}]`;
        i = close;
      }
    } else source += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** The paths matching `pattern` (relative ones resolve against `cwd`), sorted. */
export function globPaths(pattern: string, cwd = process.cwd()): string[] {
  const absolute = isAbsolute(pattern) ? pattern : resolve(cwd, pattern);
  const segments = absolute.split('/').filter(Boolean);
  let found = ['/'];
  for (const segment of segments) {
    if (!WILDCARD.test(segment)) {
      found = found.map((dir) => join(dir, segment));
      continue;
    }
    const match = segmentPattern(segment);
    const next: string[] = [];
    for (const dir of found) {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue; // not a directory, or gone: nothing matches under it
      }
      for (const name of names) if (match.test(name) && (!name.startsWith('.') || segment.startsWith('.'))) next.push(join(dir, name));
    }
    found = next;
  }
  return found.sort();
}
