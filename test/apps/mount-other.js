// A second, different app for the dispatch tests: says who it is and what it was given.
export function application(env, startResponse) {
  startResponse('200 OK', [['Content-Type', 'application/json']]);
  return JSON.stringify({ app: 'other', SCRIPT_NAME: env.SCRIPT_NAME, PATH_INFO: env.PATH_INFO, UWSGI_APPID: env.UWSGI_APPID ?? null });
}
