/** The time as an HTTP date (`Wed, 25 Nov 2026 04:14:47 GMT`), formatted once a second, not per request. */
let second = -1;
let text = '';

export function utcClock(): string {
  const now = Date.now();
  const current = Math.floor(now / 1000);
  if (current !== second) {
    second = current;
    text = new Date(now).toUTCString();
  }
  return text;
}
