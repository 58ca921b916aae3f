// Test fixture: what this node knows of its cluster, as JSON.
//   tsgi --cluster 225.1.1.1:1717 --http-socket 10.213.0.*:8080 --chdir test/apps --module cluster
// GET /best picks the least recently chosen node; GET / only reads the table.
import uwsgi from 'tsgi';

export function application(env, start_response) {
  const body = env.PATH_INFO === '/best'
    ? { best: uwsgi.cluster_best_node() }
    : {
      cluster: uwsgi.cluster(),
      nodes: uwsgi.cluster_nodes().sort(),
      me: uwsgi.cluster_node_name(),
      names: Object.fromEntries(uwsgi.cluster_nodes().map((node) => [node, uwsgi.cluster_node_name(node)])),
      worker: uwsgi.worker_id(),
      pid: process.pid,
      master: uwsgi.masterpid(),
    };
  start_response('200 OK', [['Content-Type', 'application/json']]);
  return [JSON.stringify(body)];
}
