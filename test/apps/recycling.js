// For the recycling and limits tests: who served a request, memory an app keeps (reload-on-rss),
// and a body route that says when the app ran at all (limit-post must refuse before it does).
import uwsgi from 'tsgi';

/** Kept forever: the leak --reload-on-rss is for. */
const hoard = [];

export async function application(env, startResponse) {
  const path = env.PATH_INFO;
  if (path === '/hog') {
    const megabytes = Number(new URLSearchParams(env.QUERY_STRING).get('mb') ?? 100);
    for (let i = 0; i < megabytes; i++) hoard.push(Buffer.alloc(1024 * 1024, 1)); // filled: resident, not just reserved
  } else if (path === '/body') {
    console.log(`app got ${env.REQUEST_METHOD} /body (CONTENT_LENGTH ${env.CONTENT_LENGTH ?? 'none'})`);
    const body = await env['tsgi.input'];
    startResponse('200 OK', [['Content-Type', 'text/plain']]);
    return `read ${body.length} bytes`;
  }
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return `pid ${process.pid} worker ${uwsgi.worker_id()}`;
}
