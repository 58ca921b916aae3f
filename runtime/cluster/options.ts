/**
 * The Cluster rows of the option table (runtime/options.ts): uWSGI 0.9.8's multicast clustering
 * (removed from uWSGI in 1.9, kept here because the talk shows it).
 */
import type { OptionRow } from '../options.js';
import { parseClusterAddress } from './socket.js';

export const CLUSTER_ROWS = [
  { name: 'cluster', kind: 'string', arg: 'GROUP:PORT', section: 'Cluster', check: (v) => void parseClusterAddress(v, 'cluster'), help: 'join the UDP multicast group (or :PORT for broadcast), announce this node every 10 s and keep a table of the members; alone on the command line, ask the cluster for a configuration and run with it' },
  { name: 'cluster-nodes', kind: 'string', arg: 'GROUP:PORT', section: 'Cluster', check: (v) => void parseClusterAddress(v, 'cluster-nodes'), help: "learn the cluster's nodes (for uwsgi.cluster_best_node() and friends) without announcing this one or answering configuration requests" },
  { name: 'cluster-reload', kind: 'string', arg: 'GROUP:PORT', section: 'Cluster', check: (v) => void parseClusterAddress(v, 'cluster-reload'), help: 'send a graceful reload to every member of the cluster and exit' },
  { name: 'cluster-log', kind: 'string', arg: 'GROUP:PORT', section: 'Cluster', check: (v) => void parseClusterAddress(v, 'cluster-log'), help: "send each line of stdin to every member's log and exit" },
  { name: 'cluster-freq', kind: 'int', arg: 'SECONDS', section: 'Cluster', default: 10, min: 1, help: 'announce this node every SECONDS (uWSGI: every 10 master cycles); tsgi extra' },
  { name: 'cluster-tolerance', kind: 'int', arg: 'SECONDS', section: 'Cluster', default: 30, min: 1, help: 'a node not heard from for SECONDS leaves the node table (uWSGI: 30); tsgi extra' },
] as const satisfies readonly OptionRow[];
