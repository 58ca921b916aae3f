/**
 * The protocols a socket can speak, each with the module that serves it. This is the one list
 * of protocol names: `--protocol` takes its choices from here (so the `Options` type does too),
 * and the registry imports a protocol's module from here when a socket speaks it. It holds no
 * server code, so the option table can import it without pulling servers into the master.
 */

/** Paths are relative to this directory, where registry.ts, which imports them, lives. */
export const PROTOCOL_MODULES = { uwsgi: './uwsgi/server.js', http: './http/server.js', fastcgi: './fastcgi/server.js' } as const;

export type ProtocolName = keyof typeof PROTOCOL_MODULES;

/** In declaration order, which is the order error messages list them in. */
export const PROTOCOLS = Object.keys(PROTOCOL_MODULES) as readonly ProtocolName[];

/** Mongrel2 over ZeroMQ: not a listening socket (`--zmq` connects out), so no `--protocol` choice. */
export const ZMQ_MODULE = { zmq: './zmq/handler.js' } as const;
