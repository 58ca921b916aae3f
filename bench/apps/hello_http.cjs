// Node raw http hello world (anchor; copied from shared/anchors/apps/hello_http.js as .cjs because
// this package is "type": "module"). PORT from env or argv[2].
'use strict';
const http = require('node:http');
const port = Number(process.env.PORT || process.argv[2] || 8080);
const host = process.env.HOST || '127.0.0.1';
const body = Buffer.from('Hello World');
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 65000;
server.listen(port, host, () => {
  if (process.env.VERBOSE) console.log(`pid ${process.pid} listening ${host}:${port}`);
});
