// A module both mounted apps import: each app must get a copy of its own.
let count = 0;
export function bump() {
  return ++count;
}
