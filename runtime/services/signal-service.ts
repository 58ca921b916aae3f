/**
 * Remote uWSGI signals over the uwsgi protocol (uWSGI's `plugins/signal/signal_plugin.c`): `[110, 0, signum]` asks a node
 * to raise a signal; it answers `[255, 0, 1]` once the signal is queued to its master.
 */
import { workerContext } from '../context.js';
import { exchange, packetHeader } from '../protocols/uwsgi/packet.js';
import { registerService } from './registry.js';

/** Raises `num` on `node`; resolves true if the node queued it. */
export async function sendRemoteSignal(node: string, num: number, timeoutMs: number): Promise<boolean> {
  const reply = await exchange(node, packetHeader(110, 0, num), timeoutMs);
  return reply.length >= 4 && reply[0] === 255 && reply[3] === 1;
}

/** How long a remote signal waits for the master to take it before answering 0. */
const MASTER_ACK_MS = 2000;

registerService(110, (packet, reply) => {
  void workerContext('signal').askMaster({ act: 'raise-signal', num: packet.modifier2 }, MASTER_ACK_MS)
    .then((queued) => reply.send(packetHeader(255, 0, queued ? 1 : 0)));
});
