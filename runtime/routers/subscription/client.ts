/**
 * The announcing side of subscriptions (`--subscribe-to`, `--subscribe2`), run by the master:
 * it sends a subscribe datagram per subscription on its first cycle and every
 * --subscribe-freq seconds after, and an unsubscribe at shutdown and on a brutal reload (on a
 * graceful one only with --unsubscribe-on-graceful-reload), as uWSGI 2.0's master does.
 * `cores` is processes × async, `load` the first socket's listen queue, `weight` --weight
 * (processes × async with --auto-weight) unless the subscription names its own.
 */
import { createSocket, type Socket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { log } from '../../logger.js';
import type { MasterHost, ReloadKind, Subsystem } from '../../master/subsystem.js';
import { native } from '../../native.js';
import { encodeSubscription } from './packet.js';
import { expandKeyFiles, parseSubscribe2, parseSubscribeTo, type SubscriptionSpec } from './spec.js';

export class Subscriber implements Subsystem {
  readonly name = 'subscriptions';
  #host!: MasterHost;
  #specs: SubscriptionSpec[] = [];
  #socket: Socket | null = null;
  #nextAt = 0;
  #inFlight = 0;
  #unsubscribed = false;

  start(host: MasterHost): void {
    this.#host = host;
    const { options } = host;
    const specs = [...options['subscribe-to'].map(parseSubscribeTo), ...options.subscribe2.map(parseSubscribe2)];
    this.#specs = specs.flatMap(expandKeyFiles);
    if (this.#specs.length === 0 || options['start-unsubscribed']) return;
    this.#socket = createSocket('udp4');
    this.#socket.on('error', (error) => log(`[subscription] send error: ${error.message}`));
    this.#socket.unref();
    for (const spec of this.#specs) log(`subscribing to ${spec.server} as ${this.#addressOf(spec) ?? '(no socket)'} for key "${spec.key}" every ${options['subscribe-freq']} s`);
  }

  cycle(now: number): number | void {
    if (this.#socket === null || this.#unsubscribed) return;
    if (now >= this.#nextAt) {
      this.#nextAt = now + this.#host.options['subscribe-freq'] * 1000;
      this.#sendAll(false);
    }
    return this.#nextAt;
  }

  reload(kind: ReloadKind): void {
    if (kind === 'brutal' || this.#host.options['unsubscribe-on-graceful-reload']) {
      this.#sendAll(true);
      this.#nextAt = 0; // announced again on the next pass, by the reloaded instance
    }
  }

  stopGracefully(): void {
    this.#unsubscribeAll();
  }

  stopBrutally(): void {
    this.#unsubscribeAll();
  }

  /** The unsubscribe datagrams are still being handed to the kernel. */
  busy(): boolean {
    return this.#inFlight > 0;
  }

  close(): void {
    this.#socket?.close();
    this.#socket = null;
  }

  #unsubscribeAll(): void {
    if (this.#unsubscribed) return;
    this.#sendAll(true);
    this.#unsubscribed = true;
  }

  #addressOf(spec: SubscriptionSpec): string | undefined {
    return spec.address ?? this.#host.sockets[spec.socket]?.name;
  }

  #sendAll(unsubscribe: boolean): void {
    const socket = this.#socket;
    if (socket === null) return;
    const { options, sockets } = this.#host;
    const cores = options.processes * options.async;
    const queue = sockets[0] === undefined ? 0 : native.listenQueue(sockets[0].fd);
    for (const spec of this.#specs) {
      const address = this.#addressOf(spec);
      if (address === undefined || (spec.check !== undefined && existsSync(spec.check))) continue;
      const weight = spec.weight ?? (options['auto-weight'] ? cores : options.weight);
      const packet = encodeSubscription({ key: spec.key, address, modifier1: spec.modifier1, modifier2: spec.modifier2, cores, load: Math.max(0, queue), weight }, unsubscribe);
      const colon = spec.server.lastIndexOf(':');
      this.#inFlight++;
      socket.send(packet, Number(spec.server.slice(colon + 1)), (spec.server.slice(0, colon).replace(/^\[|\]$/g, '') || '127.0.0.1'), () => {
        this.#inFlight--;
        if (this.#inFlight === 0) this.#host.wake();
      });
    }
    if (unsubscribe) log(`unsubscribed from ${[...new Set(this.#specs.map((spec) => spec.server))].join(', ')}`);
  }
}
