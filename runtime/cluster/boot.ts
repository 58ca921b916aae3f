/**
 * The command lines that talk to a cluster before (or instead of) running an instance:
 * `--cluster ADDR` alone asks the members for a configuration and runs with the first answer,
 * `--cluster-reload ADDR` and `--cluster-log ADDR` send one message each and exit (spec §5).
 */
import { hostname } from 'node:os';
import { tsgiError } from '../errors.js';
import { log } from '../logger.js';
import { applyOption, argvPairs, defaultOptions, parseArgv, type Options } from '../options.js';
import { openClusterSocket, parseClusterAddress, type ClusterAddress } from './socket.js';
import { CLUSTER_MODIFIER, CONFIG_REPLY, CONFIG_REQUEST, decodeMessage, decodePairs, encodeMessage } from './wire.js';

/** How long a booting node waits for an answer before it asks again (as uWSGI 0.9.8). */
export const CONFIG_RETRY_MS = 10_000;

/** The options to run with, 'done' after a one-shot command, or undefined when argv is an ordinary command line. */
export async function clusterCommandLine(argv: string[]): Promise<Options | 'done' | undefined> {
  const pairs = argvPairs(argv);
  if (pairs.length === 1 && pairs[0]!.name === 'cluster' && typeof pairs[0]!.value === 'string') {
    return configFromCluster(parseClusterAddress(pairs[0]!.value, 'cluster'));
  }
  const options = parseArgv(argv);
  if (options['cluster-reload'] !== undefined) {
    await sendOnce(parseClusterAddress(options['cluster-reload'], 'cluster-reload'), [encodeMessage(CLUSTER_MODIFIER.reload, 0)]);
    log(`cluster ${options['cluster-reload']}: asked every member to reload`);
    return 'done';
  }
  if (options['cluster-log'] !== undefined) {
    const lines = (await readStdin()).split('\n').filter((line) => line !== '');
    await sendOnce(parseClusterAddress(options['cluster-log'], 'cluster-log'), lines.map((line) => encodeMessage(CLUSTER_MODIFIER.log, 0, line)));
    return 'done';
  }
  return undefined;
}

async function sendOnce(address: ClusterAddress, datagrams: Buffer[]): Promise<void> {
  let failure: Error | undefined;
  const socket = await openClusterSocket(address, null, (error) => (failure = error));
  for (const datagram of datagrams) socket.send(datagram);
  // Sends complete asynchronously; closing at once could drop the last datagrams.
  await new Promise((resolve) => setTimeout(resolve, 100));
  socket.close();
  if (failure) throw tsgiError('TSGI_ERR_CLUSTER_ADDRESS', `cannot send to the cluster ${address.text}: ${failure.message}`);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Asks until a member answers; the answer's options are applied as a config file's would be. */
async function configFromCluster(address: ClusterAddress): Promise<Options> {
  let settle!: (options: Options) => void;
  let fail!: (error: Error) => void;
  const answered = new Promise<Options>((resolve, reject) => ((settle = resolve), (fail = reject)));
  const socket = await openClusterSocket(address, (datagram, from) => {
    try {
      const { modifier1, modifier2, payload } = decodeMessage(datagram);
      if (modifier1 !== CLUSTER_MODIFIER.config || modifier2 !== CONFIG_REPLY) return;
      const options = defaultOptions();
      const origin = { source: `the configuration of cluster member ${from.address}` };
      for (const [name, value] of decodePairs(payload)) applyOption(options, name, value, origin);
      options.cluster = address.text;
      log(`cluster ${address.text}: running with the configuration of ${from.address}`);
      settle(options);
    } catch (error) {
      fail(tsgiError('TSGI_ERR_CLUSTER_CONFIG', `cluster ${address.text}: the answer of ${from.address} is unusable: ${(error as Error).message}`));
    }
  }, (error) => log(`cluster ${address.text}: ${error.message}`));
  const ask = () => {
    log(`cluster ${address.text}: ${hostname()} asks the members for a configuration`);
    socket.send(encodeMessage(CLUSTER_MODIFIER.config, CONFIG_REQUEST));
  };
  ask();
  const retry = setInterval(ask, CONFIG_RETRY_MS);
  try {
    return await answered;
  } finally {
    clearInterval(retry);
    socket.close();
  }
}
