/**
 * Network enqueue (modifier1 17, uWSGI's `core/spooler.c`): a peer sends `[17, size, 0]` + a dict and
 * gets `[255, 0, 1]` once the task is on disk, `[255, 0, 0]` when it could not be queued.
 */
import { workerContext } from '../context.js';
import { log } from '../logger.js';
import { packetHeader } from '../protocols/uwsgi/packet.js';
import { registerService } from './registry.js';
import { spoolerDirs, spoolPacket, wakeSpoolers } from '../spooler/enqueue.js';
import { SPOOL_MODIFIER1 } from '../spooler/spool-file.js';

registerService(SPOOL_MODIFIER1, (packet, reply) => {
  const context = workerContext('spool');
  try {
    const { dir } = spoolPacket(packet.payload!, spoolerDirs(context.options));
    wakeSpoolers(context.toMaster, dir);
    reply.send(packetHeader(255, 0, 1));
  } catch (error) {
    log(`network spool request refused: ${(error as Error).message}`);
    reply.send(packetHeader(255, 0, 0));
  }
});
