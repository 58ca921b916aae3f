/**
 * Every error tsgi raises on purpose has a stable code from this one table. The README's error
 * table is rendered from it (scripts/render-docs.mjs) and a test pins both, so a code never
 * changes meaning silently.
 */

type Base = typeof Error | typeof TypeError | typeof RangeError | typeof SyntaxError;

interface ErrorSpec {
  /** The Error subclass callers can rely on (`instanceof TypeError` for wrong types, …). */
  base: Base;
  /** HTTP status a request-level error becomes (parse errors → 400, app errors → 500). */
  status?: number;
  /** One line for the README: what it means. */
  meaning: string;
  /** One line for the README: what to do about it. */
  fix: string;
}

export const ERROR_CODES = {
  TSGI_ERR_OPT_UNKNOWN: { base: Error, meaning: 'an option name tsgi does not know', fix: 'check the spelling (the message suggests the closest option); `tsgi --help` lists them all' },
  TSGI_ERR_OPT_VALUE: { base: RangeError, meaning: 'an option got a value of the wrong kind or out of range', fix: 'fix the value named in the message (`tsgi --help` shows the expected form)' },
  TSGI_ERR_OPT_MISSING_VALUE: { base: Error, meaning: 'an option that takes a value was given none', fix: 'add the value after the option (`--processes 4` or `--processes=4`)' },
  TSGI_ERR_OPT_ARGUMENT: { base: Error, meaning: 'a bare argument tsgi cannot use', fix: 'pass options as `--name value`; a bare config file must end in .ini, .xml, .yaml, .yml, .json, .js or .db (else use `--ini FILE` and friends)' },
  TSGI_ERR_CONFIG_READ: { base: Error, meaning: 'a config file could not be read (missing, a directory, no permission), or its exec:// command failed', fix: 'check the path in the message (relative includes resolve against the including file) or run the command by hand' },
  TSGI_ERR_CONFIG_SYNTAX: { base: SyntaxError, meaning: 'a config file is not valid ini/xml/yaml/json, or its sqlite3 query failed', fix: 'fix the file at the line in the message' },
  TSGI_ERR_CONFIG_SECTION: { base: Error, meaning: 'a config file has no section, id or mapping of that name (default: uwsgi)', fix: 'add a `[uwsgi]` section / `uwsgi:` mapping / `<uwsgi>` root, or name the one to read as `FILE:SECTION`' },
  TSGI_ERR_CONFIG_INCLUDE_LOOP: { base: Error, meaning: 'config files include each other in a loop', fix: 'remove one of the includes in the chain the message shows' },
  TSGI_ERR_CONFIG_PLACEHOLDER: { base: Error, meaning: 'a %(name), $(VAR) or %x in a config value refers to nothing (or to itself)', fix: 'define it (`set-placeholder = name=value`, a `name = value` line, an environment variable), or write %% for a literal %' },
  TSGI_ERR_CONFIG_INVALID: { base: Error, meaning: 'the configuration has several errors; the message lists each on its own line with its file:line', fix: 'fix every line listed (each says what is wrong), then run again' },
  TSGI_ERR_FIFO_CREATE: { base: Error, meaning: 'a --master-fifo could not be made (its directory is missing or not writable, the path is a directory, no mkfifo command)', fix: 'check the path in the message: tsgi removes what is there and runs `mkfifo -m 600 PATH`' },
  TSGI_ERR_NO_APP: { base: Error, meaning: 'no application was configured', fix: 'give `--module NAME` or `--wsgi-file PATH`' },
  TSGI_ERR_NO_SOCKET: { base: Error, meaning: 'nothing to listen on', fix: 'give at least one `--socket`, `--http-socket`, `--fastcgi-socket` or `--zmq`' },
  TSGI_ERR_CHEAPER_OPTIONS: { base: RangeError, meaning: 'the cheaper options contradict each other or the sockets (--cheaper not below --processes, --cheaper-initial outside them, busyness min not below max, --cheaper-algo backlog without a TCP socket)', fix: 'change one of the two options the message names (each with its file:line)' },
  TSGI_ERR_SOCKET_BIND: { base: Error, meaning: 'a socket could not be bound (address in use, no permission, bad path)', fix: 'stop whatever holds the address (`ss -ltnp`), or pick another one' },
  TSGI_ERR_APP_LOAD: { base: Error, meaning: 'importing the application threw', fix: 'fix the error in the stack trace; tsgi refuses to respawn an app that cannot load' },
  TSGI_ERR_APP_NOT_FOUND: { base: Error, meaning: 'the module or file of the application does not exist', fix: 'check `--module`/`--wsgi-file` against `--chdir` (paths resolve from the working directory)' },
  TSGI_ERR_APP_NO_CALLABLE: { base: TypeError, meaning: 'the application module does not export the callable', fix: 'export it (default `application`) or name it with `--callable` or `module:callable`' },
  TSGI_ERR_APP_START_RESPONSE: { base: Error, status: 500, meaning: 'start_response was called twice without exc_info, or after the headers were sent', fix: 'call start_response once per request (pass exc_info to replace an error response)' },
  TSGI_ERR_APP_NO_START_RESPONSE: { base: Error, status: 500, meaning: 'the application produced a body before calling start_response', fix: 'call start_response(status, headers) before returning or yielding body chunks' },
  TSGI_ERR_APP_STATUS: { base: TypeError, status: 500, meaning: 'start_response got a status that is not "NNN Reason", or one with a control character (a CR/LF would split the response)', fix: "pass a status string such as '200 OK'; never put unchecked user text in it" },
  TSGI_ERR_APP_HEADERS: { base: TypeError, status: 500, meaning: 'start_response got headers that are not [name, value] string pairs', fix: "pass headers as [['Content-Type', 'text/html'], …]" },
  TSGI_ERR_APP_YIELD: { base: TypeError, status: 500, meaning: 'a green thread yielded something that is neither a body chunk nor a suspension', fix: 'yield strings, Buffers, Uint8Arrays, Promises or values returned by uwsgi.async_sleep/suspend/wait_fd_*' },
  TSGI_ERR_UWSGI_BLOCK_SIZE: { base: RangeError, status: 400, meaning: 'a uwsgi packet announced a vars block larger than --buffer-size', fix: 'raise `--buffer-size` (max 65535) if your front end sends large headers' },
  TSGI_ERR_UWSGI_NULL_KEY: { base: Error, status: 400, meaning: 'a uwsgi vars block contained an empty key', fix: 'the peer is not speaking the uwsgi protocol; check what connects to this socket' },
  TSGI_ERR_UWSGI_TRUNCATED_VARS: { base: Error, status: 400, meaning: 'a length inside a uwsgi vars block runs past its end', fix: 'the peer is not speaking the uwsgi protocol; check what connects to this socket' },
  TSGI_ERR_UWSGI_TOO_MANY_VARS: { base: RangeError, status: 400, meaning: 'a uwsgi packet carried more than 2 × --max-vars vars', fix: 'raise `--max-vars`' },
  TSGI_ERR_UWSGI_MODIFIER: { base: Error, status: 400, meaning: 'a uwsgi packet used a modifier1 this socket does not serve', fix: 'send modifier1 0 requests (`uwsgi_modifier1` in nginx)' },
  TSGI_ERR_FASTCGI_VERSION: { base: Error, status: 400, meaning: 'a FastCGI record header had a version other than 1', fix: 'the peer is not speaking FastCGI; check what connects to this socket (`--protocol fastcgi` / `--fastcgi-socket`)' },
  TSGI_ERR_FASTCGI_RECORD: { base: Error, status: 400, meaning: 'a FastCGI record broke the protocol (out of sequence, wrong body size, or a type only applications send)', fix: 'the peer is not a FastCGI web server; the log line names the record' },
  TSGI_ERR_FASTCGI_PARAMS: { base: Error, status: 400, meaning: 'a FastCGI name-value pair announced more bytes than its PARAMS (or GET_VALUES) stream holds', fix: 'the peer is not speaking FastCGI correctly; check what connects to this socket' },
  TSGI_ERR_FASTCGI_PARAMS_SIZE: { base: RangeError, status: 400, meaning: 'the PARAMS stream of a FastCGI request was larger than --buffer-size', fix: 'raise `--buffer-size` (max 65535) if your front end sends large headers' },
  TSGI_ERR_FASTCGI_TOO_MANY_PARAMS: { base: RangeError, status: 400, meaning: 'a FastCGI request carried more than 2 × --max-vars params', fix: 'raise `--max-vars`' },
  TSGI_ERR_FASTCGI_TRUNCATED: { base: Error, status: 400, meaning: 'a FastCGI connection closed in the middle of a record or of a request\'s params', fix: 'nothing on the server: the web server went away mid-request' },
  TSGI_ERR_FASTCGI_BODY: { base: Error, status: 400, meaning: 'a FastCGI request body (STDIN) ended before CONTENT_LENGTH bytes; thrown into tsgi.input reads', fix: 'nothing on the server: the web server sent a short body (a client that hung up)' },
  TSGI_ERR_HTTP_PARSE: { base: Error, status: 400, meaning: 'a request on an HTTP socket was not valid HTTP/1.x (two Host headers, a bad chunked body, …); thrown into tsgi.input reads of a body it cut off', fix: 'the peer is not speaking HTTP; use `--socket` for uwsgi clients' },
  TSGI_ERR_HTTP_VERSION: { base: Error, status: 505, meaning: 'a request line on an HTTP socket named a version other than HTTP/1.0 or 1.1 (HTTP/2.0 …)', fix: 'nothing on the server: HTTP/2 clients must not send an HTTP/2 request line over HTTP/1 (put nginx in front for h2)' },
  TSGI_ERR_HTTP_METHOD: { base: Error, status: 405, meaning: 'a CONNECT request on an HTTP socket: tsgi is not a proxy', fix: 'nothing on the server: a client mistook it for a proxy' },
  TSGI_ERR_ZMQ_ADDRESS: { base: RangeError, meaning: 'a --zmq value is not two ZeroMQ endpoints PULL_ADDR,PUB_ADDR', fix: 'give the addresses of Mongrel2\'s send_spec and recv_spec, e.g. `--zmq tcp://127.0.0.1:9997,tcp://127.0.0.1:9996`' },
  TSGI_ERR_ZMQ_CONNECT: { base: Error, meaning: 'the zeromq package could not be loaded, or a ZeroMQ socket could not connect to a --zmq address', fix: 'run `npm install` (zeromq ships prebuilt binaries), and check the endpoints named in the message' },
  TSGI_ERR_ZMQ_MESSAGE: { base: Error, status: 400, meaning: 'a message on a --zmq socket was not a Mongrel2 request (UUID ID PATH netstring headers, netstring body); it was logged and dropped', fix: 'check what pushes to the PULL address: only Mongrel2 (or a peer speaking its handler protocol) should' },
  TSGI_ERR_ZMQ_UPLOAD: { base: Error, meaning: 'the file Mongrel2 streamed a large body to (x-mongrel2-upload-done) could not be read or deleted, or its path leaves --mongrel2-chroot', fix: 'set `--mongrel2-chroot` to the chroot of Mongrel2\'s server (its upload.temp_store paths are relative to it) and let tsgi read and delete files there' },
  TSGI_ERR_REQUEST_TIMEOUT: { base: Error, status: 408, meaning: 'a client sent a partial request (head or body) and then nothing for --socket-timeout seconds; thrown into tsgi.input reads of a stalled body', fix: 'nothing on the server; raise `--socket-timeout` for slow clients' },
  TSGI_ERR_LIMIT_POST: { base: RangeError, status: 413, meaning: 'a request body larger than --limit-post: refused by its CONTENT_LENGTH before the app ran, or (a chunked HTTP body) cut off where it passed the limit, failing the app\'s tsgi.input read', fix: 'raise `--limit-post` (0: no limit) if such bodies are expected; otherwise nothing: the client got its 413' },
  TSGI_ERR_LIMIT_AS: { base: RangeError, meaning: 'a worker cannot run within --limit-as: the limit is below the address space Node already reserved at start-up (about 0.7 GiB for V8 alone), or setrlimit refused it', fix: 'raise `--limit-as` well above the VSZ the message names (the app needs room on top), or limit RSS with `--reload-on-rss` instead' },
  TSGI_ERR_RESERVED_VAR: { base: Error, meaning: 'a uwsgi var or FastCGI param was named like a tsgi key (`tsgi.input`, …); it was ignored, and logged once per connection', fix: 'nothing on the server: tsgi.* keys come from tsgi only; check what the web server (or a client reaching the socket directly) sends' },
  TSGI_ERR_API_OUTSIDE_WORKER: { base: Error, meaning: 'a uwsgi api function was called in a process that is not a tsgi worker', fix: 'call it from code that tsgi runs (the app, a handler), not from a plain `node` process' },
  TSGI_ERR_API_ARGUMENT: { base: TypeError, meaning: 'a uwsgi api function got an argument of the wrong kind or out of range', fix: 'fix the call as the message says (signal numbers are 0-255, handlers are functions, …)' },
  TSGI_ERR_API_FD: { base: TypeError, meaning: 'wait_fd_read/wait_fd_write got something that is not a pollable file descriptor', fix: 'pass the fd of a socket, pipe or eventfd (regular files are always ready and cannot be polled)' },
  TSGI_ERR_CLUSTER_ADDRESS: { base: RangeError, meaning: 'a --cluster* address is not GROUP:PORT (an IPv4 multicast group) or :PORT, or its UDP socket could not be opened or join the group', fix: 'use a group in 224.0.0.0/4 with a port, e.g. 225.1.1.1:1717, and check the machine has a route for 224.0.0.0/4 (`ip route add 224.0.0.0/4 dev IFACE`)' },
  TSGI_ERR_CLUSTER_CONFIG: { base: Error, meaning: 'a node started with --cluster alone got no usable configuration from the cluster', fix: 'start at least one member (not --cluster-nodes) on the same group, or pass the options yourself' },
  TSGI_ERR_INTERNAL: { base: Error, meaning: 'tsgi reached a state its own code rules out (a protocol name no socket can have, an option applied twice, a request before the app loaded)', fix: 'a bug in tsgi: report it with the log line and the command line' },
  TSGI_ERR_CANCELLED: { base: Error, meaning: 'a green thread was halted (client gone, shutdown); thrown into waits that are still pending', fix: 'nothing: let it propagate so finally blocks run' },
  TSGI_ERR_HARAKIRI: { base: Error, status: 504, meaning: 'a request ran longer than --harakiri seconds: its green thread was halted (its tsgi.signal fires, its pending wait is released, its finally blocks run) and the client got a 504 if nothing was sent yet', fix: 'find out why the request takes that long (--harakiri-verbose logs it), or raise --harakiri' },
  TSGI_ERR_NATIVE_MISSING: { base: Error, meaning: 'the native addon (build/Release/tsgi.node) is not built', fix: 'run `npm install` (or `node scripts/build-addon.mjs`); it needs python3, make, g++ and Node headers' },
  TSGI_ERR_SHM: { base: Error, meaning: 'the memory shared by master and workers (cache, queue, scoreboard) could not be created or mapped, or a process found a different layout in it', fix: 'the message names the failing call (ENOMEM, EMFILE: free memory or fds); a layout mismatch means processes of two tsgi versions or configurations: restart the whole instance' },
  TSGI_ERR_CACHE_STORE: { base: Error, meaning: 'the --cache-store file does not fit the cache options (size, items, blocksize, keysize) or is not a tsgi cache file', fix: 'start with the options the message names, or move the file away to start with an empty cache' },
  TSGI_ERR_SPOOLER_NONE: { base: Error, meaning: 'uwsgi.spool() was called in an instance without a spooler', fix: 'start tsgi with `--spooler DIR` (or `--spooler-external DIR` to queue for another instance)' },
  TSGI_ERR_SPOOLER_DIR: { base: Error, meaning: 'a --spooler directory could not be created or is not writable', fix: 'create the directory named in the message, or fix its permissions; the spooler locks and removes its files' },
  TSGI_ERR_SPOOL_ARGS: { base: TypeError, meaning: 'uwsgi.spool() got a task it cannot store: not an object, pairs over 64 KiB, a bad at/priority, an unknown spooler', fix: 'fix the key named in the message; put large data in the `body` key' },
  TSGI_ERR_SPOOL_WRITE: { base: Error, meaning: 'uwsgi.spool() could not write the task file (disk full, read-only or missing directory); the task was not queued', fix: 'free space or fix the spooler directory named in the message, then queue the task again' },
  TSGI_ERR_FASTROUTER_NO_MAPPER: { base: Error, meaning: 'a --fastrouter has no way to find a node (no --fastrouter-use-cache, -use-pattern, -subscription-server, -use-base or -to), or --fastrouter-use-cache without --cache', fix: 'add one of those options (and `--cache N` for the cache mapper)' },
  TSGI_ERR_FASTROUTER_BIND: { base: Error, meaning: 'a --fastrouter, --fastrouter-subscription-server (UDP) or --fastrouter-stats address could not be bound', fix: 'stop whatever holds the address (`ss -lntup`), or pick another one' },
  TSGI_ERR_SPOOL_FORMAT: { base: Error, meaning: 'a file named like a task in a spooler directory is not a spool file; the spooler skips it', fix: 'remove or repair the file the log line names (it stays where it is)' },
  TSGI_ERR_EMPEROR_MONITOR: { base: Error, meaning: 'an --emperor value names a monitor tsgi does not have (amqp://, zmq://, …) or nothing at all', fix: 'give a directory or a glob (`dir://` and `glob://` say which explicitly)' },
  TSGI_ERR_EMPEROR_TYRANT: { base: Error, meaning: 'under --emperor-tyrant a vassal file is owned by root (uid or gid 0), so its vassal is not spawned; logged once per file', fix: 'chown the file to the user the vassal should run as' },
  TSGI_ERR_JAIL_UNKNOWN_ID: { base: Error, meaning: 'a --uid, --gid or --chown-socket names a user or group the system does not know', fix: 'create the user/group (`useradd`, `groupadd`), or give its number' },
  TSGI_ERR_JAIL_FAILED: { base: Error, meaning: 'a jailing step failed at start (umask, chmod/chown of a socket, unshare, chroot, setgid, setgroups, setuid)', fix: 'run the master as root (or with the capability the message names), and check the path or value it names' },
  TSGI_ERR_SYSTEMD_LISTEN_FDS: { base: Error, meaning: 'LISTEN_FDS (systemd socket activation) passed an fd that is not a listening socket', fix: 'check the unit\'s .socket file: tsgi takes stream sockets (ListenStream=) only' },
  TSGI_ERR_METRICS_LISTEN: { base: Error, meaning: 'the --metrics address could not be listened on (in use, no permission, a missing directory); the instance does not start', fix: 'free the address (`ss -ltnp`) or pick another one for --metrics' },
  TSGI_ERR_TOP_USAGE: { base: Error, meaning: '`tsgi top` was not given one stats address (or got an option it does not know)', fix: 'run `tsgi top ADDR`, ADDR being the instance\'s --stats address (host:port, a unix path, @name, or http://host:port/ for --stats-http)' },
  TSGI_ERR_TOP_STATS: { base: Error, meaning: '`tsgi top` could not read stats from the address: nothing listens there, or the answer is not the stats JSON', fix: 'check that the instance runs with `--stats` at that address (`tsgi top` reads the stats server, not a request socket)' },
  TSGI_ERR_HROUTER_NODE_DOWN: { base: Error, status: 502, meaning: 'the HTTP router found no node to forward to: every one refused, was missing or did not accept within --http-connect-timeout, or the node closed before answering (uWSGI closes the connection; tsgi answers 502)', fix: 'start the node (check the --http-to addresses, or why the workers die); the failed node is skipped for 30 s' },
  TSGI_ERR_HROUTER_NODE_TIMEOUT: { base: Error, status: 504, meaning: 'the node the HTTP router forwarded a request to sent nothing for --http-timeout', fix: 'find why the app is slow, or raise --http-timeout' },
  TSGI_ERR_LOG_OPEN: { base: Error, meaning: 'a log file (--logto, --logger file:, --req-logger file:, --daemonize) could not be opened', fix: 'create its directory or fix its permissions; relative paths resolve from where tsgi was started' },
  TSGI_ERR_LOG_DAEMONIZE: { base: Error, meaning: 'the --daemonize2 daemon exited before its workers were ready', fix: 'read the daemon\'s log file the message names: the boot error is there' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A tsgi error: `code` is stable, `status` is set for errors that become HTTP responses. */
export interface TsgiError extends Error {
  code: ErrorCode;
  status?: number;
}

/** Builds the error for `code`, an instance of the table's base class, with `message`. */
export function tsgiError(code: ErrorCode, message: string, options?: { cause?: unknown }): TsgiError {
  const spec: ErrorSpec = ERROR_CODES[code];
  const error = new spec.base(message, options) as TsgiError;
  error.code = code;
  if (spec.status !== undefined) error.status = spec.status;
  return error;
}

export function isTsgiError(value: unknown, code?: ErrorCode): value is TsgiError {
  return value instanceof Error && typeof (value as TsgiError).code === 'string'
    && (value as TsgiError).code in ERROR_CODES && (code === undefined || (value as TsgiError).code === code);
}

/**
 * Exit codes a worker uses to tell the master why it stopped. The values are uWSGI's
 * (uwsgi.h), so tools that watch uWSGI exit statuses read tsgi's the same way.
 */
export const EXIT = {
  /** Normal end of a worker (graceful stop finished). */
  OK: 0,
  /** The worker could not boot (bad socket fd, addon missing): the master halts. */
  WORKER_BOOT_ERROR: 1,
  /** The application failed to import: the master halts instead of respawning in a loop. */
  APP_LOAD_ERROR: 22,
  /** A spooler process ran its --spooler-max-tasks tasks: the master starts a fresh one. */
  SPOOLER_RECYCLE: 23,
} as const;
