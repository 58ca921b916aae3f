/**
 * Real peers for integration tests and benchmarks: Debian's nginx and uWSGI, started as child
 * processes with everything (config, pid file, logs, temp dirs) inside one temp directory.
 *
 * Every process started here is tracked by processes.ts and stopped when the test process exits,
 * even on an uncaught error or SIGINT/SIGTERM, and, where util-linux `setpriv` is available, it
 * also gets its stop signal from the kernel if the test process dies without running any handler
 * (PR_SET_PDEATHSIG). A missing binary is an Error that says to run `.ci/install-deps`: tests
 * fail, they never skip silently.
 *
 * @example
 * const nginx = await startNginx({ http: `server { listen 127.0.0.1:${port}; location / { return 204; } }`, ports: [port] });
 * try { ... } finally { await nginx.stop(); }
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnTracked, track as trackProcess, type TrackedProcess } from './processes.js';
import { tempDir } from './tsgi.js';

export const INSTALL_HINT = 'run `bash .ci/install-deps` (as root) to install nginx, uwsgi-core, wrk and iproute2';

/** A child process started by this module (or handed to {@link track}). */
export type Peer = TrackedProcess;

// ---------------------------------------------------------------- process tracking (processes.ts)

/**
 * Tracks an already spawned child (a tsgi server, say) so that it is stopped with the others if
 * the test process exits before the test stops it.
 */
export function track(name: string, child: ChildProcess, stopSignal: NodeJS.Signals = 'SIGTERM'): Peer {
  return trackProcess(name, child, { stopSignal });
}

/** Spawns `command` as a tracked peer (stdout/stderr captured, stdin closed, parent-death signal). */
export function spawnPeer(name: string, command: string, args: string[], opts: { cwd?: string; stopSignal?: NodeJS.Signals; env?: NodeJS.ProcessEnv } = {}): Peer {
  return spawnTracked(name, command, args, { ...opts, parentDeathSignal: true });
}

// ---------------------------------------------------------------- ports

/** Resolves once a TCP connect to 127.0.0.1:port succeeds; rejects if `peer` exits or after timeoutMs. */
export async function waitForPort(port: number, peer?: Peer, timeoutMs = 10_000, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void peer?.exited.then(() => void (gone = true));
  for (;;) {
    if (gone) throw new Error(`${peer!.name} exited (${await peer!.exited}) before it accepted on ${host}:${port}:\n${peer!.output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, host);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing accepted on ${host}:${port} within ${timeoutMs} ms${peer ? `; ${peer.name} said:\n${peer.output()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// ---------------------------------------------------------------- nginx

function which(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    if (dir === '') continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Path of Debian's nginx: $TSGI_NGINX if set, else /usr/sbin/nginx, else nginx on PATH.
 * Throws with the install hint when there is none.
 */
export function nginxBinary(): string {
  const wanted = process.env.TSGI_NGINX;
  if (wanted !== undefined && wanted !== '') {
    if (!existsSync(wanted)) throw new Error(`nginx is not installed (TSGI_NGINX=${wanted} does not exist): ${INSTALL_HINT}`);
    return wanted;
  }
  const path = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : which('nginx');
  if (path === null) throw new Error(`nginx is not installed (no /usr/sbin/nginx, none on PATH): ${INSTALL_HINT}`);
  return path;
}

/** Debian's uwsgi_params file; throws with the install hint when it is missing. */
export function nginxUwsgiParamsPath(): string {
  const path = '/etc/nginx/uwsgi_params';
  if (!existsSync(path)) throw new Error(`${path} is missing (it ships with nginx-common): ${INSTALL_HINT}`);
  return path;
}

export interface NginxOptions {
  /** The contents of the `http { }` block (server blocks, upstreams). */
  http: string;
  /** TCP ports on 127.0.0.1 to wait for before resolving. */
  ports: number[];
  /** Run a master and worker processes (default off: one process, nothing can be orphaned). */
  masterProcess?: boolean;
  /**
   * Directory for nginx.conf, pid, logs and temp paths. Default: a new temp dir, removed by
   * `stop()` unless TSGI_KEEP_TMP is set (read `errorLog()` before stopping).
   */
  dir?: string;
  /** error_log level (default notice). */
  logLevel?: string;
  /** events { worker_connections } (default 1024). */
  workerConnections?: number;
  /** events { multi_accept on } (default off). */
  multiAccept?: boolean;
  /** nginx's `user` for its worker (needs masterProcess and root); default: root when root. */
  user?: string;
}

export interface Nginx extends Peer {
  dir: string;
  confPath: string;
  errorLogPath: string;
  /** The error log's contents now ('' before nginx created it). */
  errorLog(): string;
}

/**
 * Writes `dir/nginx.conf` (daemon off, 1 worker, pid, error log and temp paths in dir, access
 * log off) around `opts.http` and returns its path: the one nginx config writer for tests and
 * benches. Run it with `nginx -p dir/ -c path`.
 */
export function writeNginxConf(dir: string, opts: Pick<NginxOptions, 'http' | 'masterProcess' | 'logLevel' | 'workerConnections' | 'multiAccept' | 'user'>): string {
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const conf = `# written by test/helpers/peers.ts writeNginxConf()
daemon off;
master_process ${opts.masterProcess ? 'on' : 'off'};
worker_processes 1;
${opts.user ? `user ${opts.user};` : asRoot ? 'user root;' : ''}
pid ${dir}/nginx.pid;
error_log ${dir}/error.log ${opts.logLevel ?? 'notice'};
events {
    worker_connections ${opts.workerConnections ?? 1024};${opts.multiAccept ? '\n    multi_accept on;' : ''}
}
http {
    access_log off;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;

${opts.http}
}
`;
  const path = join(dir, 'nginx.conf');
  writeFileSync(path, conf);
  return path;
}

/**
 * Starts nginx in the foreground on a config built from `opts` and resolves once every port in
 * `opts.ports` accepts. Stop it with `stop()` (SIGTERM: fast shutdown) in a finally block.
 */
export async function startNginx(opts: NginxOptions): Promise<Nginx> {
  const binary = nginxBinary();
  const dir = opts.dir ?? tempDir();
  const confPath = writeNginxConf(dir, opts);
  const errorLogPath = join(dir, 'error.log');
  const test = spawnSync(binary, ['-t', '-q', '-p', `${dir}/`, '-c', confPath], { encoding: 'utf8' });
  if (test.status !== 0) throw new Error(`nginx -t rejected ${confPath}:\n${test.stdout}${test.stderr}`);
  const peer = spawnPeer('nginx', binary, ['-p', `${dir}/`, '-c', confPath], { cwd: dir, stopSignal: 'SIGTERM' });
  const stopProcess = peer.stop;
  const nginx: Nginx = Object.assign(peer, {
    dir,
    confPath,
    errorLogPath,
    errorLog: () => (existsSync(errorLogPath) ? readFileSync(errorLogPath, 'utf8') : ''),
    async stop(graceMs?: number) {
      const result = await stopProcess(graceMs);
      if (opts.dir === undefined && !process.env.TSGI_KEEP_TMP) rmSync(dir, { recursive: true, force: true });
      return result;
    },
  });
  try {
    for (const port of opts.ports) await waitForPort(port, nginx);
  } catch (error) {
    const errorLog = nginx.errorLog();
    await nginx.stop();
    throw new Error(`${(error as Error).message}\nnginx error log:\n${errorLog}`);
  }
  return nginx;
}

// ---------------------------------------------------------------- uWSGI

/** Path of the `uwsgi` binary (Debian: uwsgi-core); throws with the install hint. */
export function uwsgiBinary(): string {
  const path = which('uwsgi');
  if (path === null) throw new Error(`uWSGI is not installed (no uwsgi on PATH): ${INSTALL_HINT}`);
  return path;
}

let httpPluginArgs: string[] | null = null;
/**
 * The arguments that give uWSGI its HTTP router: [] when it is built in, ['--plugin', 'http']
 * when Debian ships it as a plugin. Throws with the install hint when neither works.
 */
export function uwsgiHttpPluginArgs(): string[] {
  if (httpPluginArgs !== null) return httpPluginArgs;
  const binary = uwsgiBinary();
  const hasRouter = (args: string[]) => {
    const run = spawnSync(binary, [...args, '--help'], { encoding: 'utf8', timeout: 10_000 });
    const out = `${run.stdout}${run.stderr}`;
    return run.status === 0 && /^\s*--http-to\s/m.test(out) && !out.includes('UNABLE to load');
  };
  if (hasRouter([])) httpPluginArgs = [];
  else if (hasRouter(['--plugin', 'http'])) httpPluginArgs = ['--plugin', 'http'];
  else throw new Error(`uWSGI has no http router (\`uwsgi --plugin http --help\` does not list --http-to): ${INSTALL_HINT}`);
  return httpPluginArgs;
}

/**
 * Starts `uwsgi ...args` (stopped with SIGINT, which makes uWSGI exit; SIGTERM would reload it)
 * and, when `port` is given, resolves once it accepts on 127.0.0.1:port.
 */
export async function startUwsgi(args: string[], opts: { port?: number; cwd?: string } = {}): Promise<Peer> {
  const peer = spawnPeer('uwsgi', uwsgiBinary(), args, { cwd: opts.cwd ?? tmpdir(), stopSignal: 'SIGINT' });
  try {
    if (opts.port !== undefined) await waitForPort(opts.port, peer);
  } catch (error) {
    await peer.stop();
    throw error;
  }
  return peer;
}

/**
 * The params nginx sends with `include uwsgi_params;` / `include fastcgi_params;`, in order:
 * Debian's file evaluated with `vars` (an `if_not_empty` param is left out when empty), then
 * every request header as HTTP_NAME unless a param already sets that name.
 */
export function expectedNginxParams(kind: 'uwsgi' | 'fastcgi', vars: Record<string, string>, requestHeaders: Array<[string, string]>): Array<[string, string]> {
  const params: Array<[string, string]> = [];
  const file = kind === 'uwsgi' ? nginxUwsgiParamsPath() : '/etc/nginx/fastcgi_params';
  const directive = new RegExp(`^\\s*${kind}_param\\s+(\\S+)\\s+(\\S+?)(\\s+if_not_empty)?\\s*;`);
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = directive.exec(line);
    if (!match) continue;
    const [, name, value, ifNotEmpty] = match as unknown as [string, string, string, string | undefined];
    const evaluated = value.replace(/\$([a-z_]+)/g, (_, variable: string) => {
      if (!(variable in vars)) throw new Error(`${kind}_params uses $${variable}, which this test does not know the value of`);
      return vars[variable]!;
    });
    if (ifNotEmpty && evaluated === '') continue;
    params.push([name, evaluated]);
  }
  const set = new Set(params.map(([name]) => name));
  const headers = requestHeaders
    .map(([name, value]): [string, string] => [`HTTP_${name.toUpperCase().replaceAll('-', '_')}`, value])
    .filter(([name]) => !set.has(name));
  return [...params, ...headers];
}
