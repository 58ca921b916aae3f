// One app with an endpoint per green-runtime behaviour the integration tests check.
import { openSync, readSync, writeFileSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import uwsgi from 'tsgi';

const markers = process.env.TSGI_TEST_MARKERS;
const mark = (name) => markers && writeFileSync(join(markers, name), String(process.pid));
const text = [['Content-Type', 'text/plain']];
const query = (env) => new URLSearchParams(env.QUERY_STRING);

const routes = {
  *'/sleep'(env, sr) {
    sr('200 OK', text);
    yield uwsgi.async_sleep(Number(query(env).get('s') ?? 1));
    yield 'slept\n';
  },
  *'/stream'(env, sr) {
    sr('200 OK', text);
    for (let i = 0; i < 3; i++) {
      yield `chunk ${i}\n`;
      yield uwsgi.async_sleep(0.3);
    }
  },
  *'/bare-sleep'(env, sr) {
    sr('200 OK', text);
    uwsgi.async_sleep(0.3); // takes effect after the next chunk is sent
    yield 'before\n';
    yield 'after\n';
  },
  *'/cancel'(env, sr) {
    const id = query(env).get('id');
    sr('200 OK', text);
    env['tsgi.signal'].addEventListener('abort', () => mark(`aborted-${id}`));
    try {
      yield 'waiting\n';
      yield uwsgi.async_sleep(30);
      yield 'never\n';
    } finally {
      mark(`finally-${id}`);
    }
  },
  '/timers'(env, sr) {
    sr('200 OK', text);
    const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    return `${timers}\n`;
  },
  *'/fd'(env, sr) {
    const fd = openSync(query(env).get('path'), 'r+'); // r+ on a FIFO never blocks
    sr('200 OK', text);
    try {
      const ready = yield uwsgi.wait_fd_read(fd, Number(query(env).get('timeout') ?? 5));
      if (ready === null) return yield 'timeout\n';
      const buffer = Buffer.alloc(100);
      const n = readSync(fd, buffer);
      yield `read ${buffer.subarray(0, n).toString().trim()} from fd ${ready === fd ? 'same' : ready}\n`;
    } finally {
      closeSync(fd);
    }
  },
  *'/promise'(env, sr) {
    sr('200 OK', text);
    const value = yield new Promise((resolve) => setTimeout(resolve, 50, 'resolved'));
    yield `${value}\n`;
    try {
      yield Promise.reject(new Error('rejected'));
    } catch (error) {
      yield `caught ${error.message}\n`;
    }
  },
  async '/async-fn'(env, sr) {
    await uwsgi.async_sleep(0.05);
    const body = await env['tsgi.input'];
    sr('200 OK', text);
    return `async got ${body.length} bytes\n`;
  },
  async *'/async-gen'(env, sr) {
    sr('200 OK', text);
    yield 'a\n';
    await uwsgi.async_sleep(0.05);
    yield 'b\n';
  },
  *'/echo'(env, sr) {
    const body = yield env['tsgi.input'];
    sr('200 OK', [['Content-Type', env.CONTENT_TYPE ?? 'application/octet-stream']]);
    yield body;
  },
  '/array'(env, sr) {
    sr('200 OK', text);
    return ['x', Buffer.from('y'), new Uint8Array([122]), '\n'];
  },
  *'/big'(env, sr) {
    sr('200 OK', text);
    const chunk = 'z'.repeat(64 * 1024);
    for (let i = 0; i < 64; i++) yield chunk; // 4 MiB: the socket pushes back
    yield '\n';
  },
  '/throw'() {
    throw new Error('boom');
  },
  '/twice'(env, sr) {
    sr('200 OK', text);
    sr('200 OK', text);
    return 'no';
  },
  '/no-start'() {
    return 'body without start_response';
  },
  *'/bad-yield'(env, sr) {
    sr('200 OK', text);
    try {
      yield 42;
    } catch (error) {
      yield `${error.code}\n`;
    }
  },
  '/env'(env, sr) {
    sr('200 OK', [['Content-Type', 'application/json']]);
    const vars = Object.fromEntries(Object.entries(env).filter(([, v]) => typeof v === 'string' || typeof v === 'number'));
    return JSON.stringify({ ...vars, worker: uwsgi.worker_id(), masterpid: uwsgi.masterpid(), numproc: uwsgi.numproc, requests: uwsgi.total_requests(), cores: uwsgi.opt.async });
  },
  '/pid'(env, sr) {
    sr('200 OK', text);
    return `${process.pid}\n`;
  },
};

export function application(env, start_response) {
  const route = routes[env.PATH_INFO];
  if (!route) {
    start_response('404 Not Found', text);
    return 'no such route\n';
  }
  return route(env, start_response);
}
