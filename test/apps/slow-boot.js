// Test fixture: an app that takes TSGI_TEST_BOOT_MS to load, then leaves a file named after its
// pid in TSGI_TEST_BOOT_MARKERS (written before the worker reports ready), so a test can tell
// whether something happened before or after every worker had loaded.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

await new Promise((resolve) => setTimeout(resolve, Number(process.env.TSGI_TEST_BOOT_MS ?? 1000)));
if (process.env.TSGI_TEST_BOOT_MARKERS) writeFileSync(join(process.env.TSGI_TEST_BOOT_MARKERS, String(process.pid)), '');

export function application(env, start_response) {
  start_response('200 OK', [['Content-Type', 'text/plain']]);
  return `pid ${process.pid}`;
}
