/**
 * The Sockets rows of the option table (runtime/options.ts): what to listen on and how the
 * protocols read requests. Protocol names come from names.ts, never from server code, so the
 * master can parse options without loading a server.
 */
import { tsgiError } from '../errors.js';
import type { OptionCheck, OptionRow } from '../options.js';
import { PROTOCOLS } from './names.js';
import { parseZmqSpec } from './zmq/mongrel2-parser.js';

export const SOCKET_ROWS = [
  { name: 'socket', short: 's', aliases: ['uwsgi-socket'], kind: 'address', arg: 'ADDR', section: 'Sockets', repeatable: true, help: 'bind a socket speaking --protocol (default uwsgi): host:port, :port, /path or @abstract' },
  { name: 'http-socket', kind: 'address', arg: 'ADDR', section: 'Sockets', repeatable: true, help: 'bind a socket speaking HTTP/1.1 (keep-alive, chunked)' },
  { name: 'fastcgi-socket', kind: 'address', arg: 'ADDR', section: 'Sockets', repeatable: true, help: 'bind a socket speaking FastCGI (responder role, FCGI_KEEP_CONN; nginx fastcgi_pass)' },
  { name: 'zmq', aliases: ['zeromq', 'mongrel2', 'zmq-socket', 'zeromq-socket'], kind: 'string', arg: 'PULL,PUB', section: 'Sockets', repeatable: true, help: 'serve Mongrel2: connect a ZeroMQ PULL socket to PULL (requests) and a PUB socket to PUB (responses), e.g. tcp://127.0.0.1:9997,tcp://127.0.0.1:9996' },
  { name: 'mongrel2-chroot', aliases: ['zmq-upload-dir'], kind: 'string', arg: 'DIR', section: 'Sockets', help: "Mongrel2's chroot: x-mongrel2-upload-done paths (upload.temp_store files) are relative to it; tsgi reads each from there and deletes it when the request ends" },
  { name: 'protocol', kind: 'enum', arg: 'NAME', section: 'Sockets', choices: PROTOCOLS, default: 'uwsgi', help: 'protocol of the --socket sockets' },
  { name: 'listen', short: 'l', kind: 'int', arg: 'N', section: 'Sockets', min: 1, max: 65535, default: 1024, help: 'listen queue (backlog) of every socket; capped by net.core.somaxconn' },
  { name: 'buffer-size', short: 'b', kind: 'int', arg: 'BYTES', section: 'Sockets', min: 512, max: 65535, default: 4096, help: 'largest uwsgi vars block, or FastCGI PARAMS stream, accepted' },
  { name: 'max-vars', kind: 'int', arg: 'N', section: 'Sockets', min: 1, max: 32767, default: 64, help: 'a uwsgi request may carry 2 × N vars' },
  { name: 'no-defer-accept', kind: 'flag', section: 'Sockets', default: false, help: 'accept a TCP connection as soon as it is made; by default (as uWSGI) the kernel hands it over once its first bytes arrive, or after --socket-timeout of silence (connects beyond --listen that have not sent yet then go through SYN cookies)' },
  { name: 'socket-timeout', short: 'z', kind: 'number', arg: 'SECS', section: 'Sockets', min: 0.001, default: 4, help: 'drop a connection that sends a partial request and then nothing for SECS; a request body that stops for SECS fails its tsgi.input read (408)' },
  { name: 'http-underscores-in-headers', kind: 'flag', section: 'Sockets', default: false, help: "pass HTTP request headers whose names contain '_' to the app (nginx underscores_in_headers); by default they are dropped, since X_Forwarded_For would merge into the HTTP_X_FORWARDED_FOR a trusted proxy sets" },
] as const satisfies readonly OptionRow[];

export const SOCKET_CHECKS: readonly OptionCheck[] = [
  function somethingToListenOn(options) {
    if (options.socket.length + options['http-socket'].length + options['fastcgi-socket'].length + options.zmq.length + options.http.length === 0) {
      throw tsgiError('TSGI_ERR_NO_SOCKET', 'nothing to listen on: give --socket, --http-socket, --fastcgi-socket or --zmq');
    }
  },
  // A --zmq value is two endpoints; they are checked here, before any worker connects, so a
  // typo stops start-up with TSGI_ERR_ZMQ_ADDRESS instead of failing in every worker.
  function zmqEndpointPairs(options) {
    for (const spec of options.zmq) parseZmqSpec(spec);
  },
];
