/**
 * A WebSocket echo server that speaks the uwsgi protocol, for the HTTP router's WebSocket test:
 * it reads the router's packet, turns the vars back into the request `ws` expects and lets
 * `ws` (the npm library) answer the handshake and echo every message on the raw socket. tsgi's
 * own workers answer an Upgrade as a plain request, so the node behind the router is this one.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { IncomingMessage } from 'node:http';

/** Parses a uwsgi packet at the start of `bytes`: the vars and where the packet ends, or null while incomplete. */
export function parseUwsgiPacket(bytes: Buffer): { vars: Array<[string, string]>; end: number; modifier1: number; modifier2: number } | null {
  if (bytes.length < 4) return null;
  const size = bytes.readUInt16LE(1);
  if (bytes.length < 4 + size) return null;
  const vars: Array<[string, string]> = [];
  let at = 4;
  while (at < 4 + size) {
    const keyLength = bytes.readUInt16LE(at);
    const key = bytes.toString('latin1', at + 2, at + 2 + keyLength);
    at += 2 + keyLength;
    const valueLength = bytes.readUInt16LE(at);
    vars.push([key, bytes.toString('latin1', at + 2, at + 2 + valueLength)]);
    at += 2 + valueLength;
  }
  return { vars, end: 4 + size, modifier1: bytes[0]!, modifier2: bytes[3]! };
}

/** Listens on `path` (a unix socket); every connection is one WebSocket that echoes. */
export async function startUwsgiWebSocketNode(path: string): Promise<{ server: Server; close(): Promise<void>; packets: Array<Array<[string, string]>> }> {
  const wss = new WebSocketServer({ noServer: true });
  const packets: Array<Array<[string, string]>> = [];
  const server = createServer((socket: Socket) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const packet = parseUwsgiPacket(buffered);
      if (packet === null) return;
      socket.off('data', onData);
      packets.push(packet.vars);
      const env = Object.fromEntries(packet.vars);
      const headers: Record<string, string> = {};
      for (const [key, value] of packet.vars) if (key.startsWith('HTTP_')) headers[key.slice(5).toLowerCase().replaceAll('_', '-')] = value;
      const request = { method: env.REQUEST_METHOD, url: env.REQUEST_URI, headers } as unknown as IncomingMessage;
      wss.handleUpgrade(request, socket, buffered.subarray(packet.end), (ws) => {
        ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      });
    };
    socket.on('data', onData);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    server,
    packets,
    close: () => new Promise((resolve) => {
      for (const client of wss.clients) client.terminate();
      server.close(() => resolve());
    }),
  };
}
