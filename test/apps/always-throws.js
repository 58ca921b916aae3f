// Test fixture: throws on every request, always from the same place (so with the same stack).
//   tsgi --http-socket :8080 --chdir test/apps --module always-throws
export function application() {
  throw new Error('this request fails on purpose');
}
