/**
 * The UDP socket a node talks to its cluster on: `group:port` joins that multicast group,
 * `:port` uses broadcast instead (as uWSGI 0.9.8). Multicast keeps the kernel's default TTL of
 * 1, so announcements never leave the local network segment, and loopback stays on, so a
 * member hears (and lists) itself as uWSGI's members did.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { tsgiError } from '../errors.js';

export interface ClusterAddress {
  /** The multicast group, or null for broadcast. */
  group: string | null;
  port: number;
  text: string;
}

export function parseClusterAddress(text: string, option: string): ClusterAddress {
  const match = /^([^:]*):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw tsgiError('TSGI_ERR_CLUSTER_ADDRESS', `--${option} ${text}: expected GROUP:PORT (an IPv4 multicast group) or :PORT (broadcast)`);
  const group = match[1] === '' ? null : match[1]!;
  if (group !== null && (!isIPv4(group) || Number(group.split('.')[0]) < 224 || Number(group.split('.')[0]) > 239)) {
    throw tsgiError('TSGI_ERR_CLUSTER_ADDRESS', `--${option} ${text}: ${group} is not an IPv4 multicast group (224.0.0.0 – 239.255.255.255)`);
  }
  return { group, port, text };
}

export interface ClusterSocket {
  send(datagram: Buffer): void;
  close(): void;
}

/**
 * Opens the socket; `receive` is null for a sender only (`--cluster-reload`), which binds no
 * port and joins nothing. Errors after the bind are reported to `onError` and never thrown: a
 * cluster that is unreachable must not take the instance down.
 */
export async function openClusterSocket(
  address: ClusterAddress,
  receive: ((datagram: Buffer, from: RemoteInfo) => void) | null,
  onError: (error: Error) => void,
): Promise<ClusterSocket> {
  const socket: Socket = createSocket({ type: 'udp4', reuseAddr: true });
  const destination = address.group ?? '255.255.255.255';
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(receive === null ? 0 : address.port, () => {
      socket.off('error', reject);
      resolve();
    });
  }).catch((error: Error) => {
    socket.close();
    throw tsgiError('TSGI_ERR_CLUSTER_ADDRESS', `cannot open the cluster socket for ${address.text}: ${error.message}`);
  });
  socket.on('error', onError);
  if (address.group === null) socket.setBroadcast(true);
  else if (receive !== null) {
    try {
      socket.addMembership(address.group);
    } catch (error) {
      socket.close();
      throw tsgiError('TSGI_ERR_CLUSTER_ADDRESS', `cannot join multicast group ${address.group}: ${(error as Error).message} (is there a route for 224.0.0.0/4?)`);
    }
  }
  if (receive !== null) socket.on('message', receive);
  return {
    send: (datagram) => socket.send(datagram, address.port, destination, (error) => error && onError(error)),
    close: () => socket.close(),
  };
}
