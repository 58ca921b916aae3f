// A second app for the dispatch tests: says which module instance served (its URL carries
// ?tsgi-app=N when mounted as app N > 0) and what SCRIPT_NAME/PATH_INFO it was given.
export function application(env, startResponse) {
  startResponse('200 OK', [['Content-Type', 'application/json']]);
  return JSON.stringify({ instance: new URL(import.meta.url).search, SCRIPT_NAME: env.SCRIPT_NAME, PATH_INFO: env.PATH_INFO, UWSGI_APPID: env.UWSGI_APPID ?? null });
}
