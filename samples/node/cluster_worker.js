'use strict';
// A cluster worker's view of its connections: the listening socket belongs to the primary, so
// the worker's report lists accepted connections but no listener.
//   node cluster_worker.js PORT REPORT_FILE
const cluster = require('cluster');
const net = require('net');

const [port, out] = [Number(process.argv[2]), process.argv[3]];
if (!port || !out) {
  process.stderr.write('usage: cluster_worker.js PORT REPORT_FILE\n');
  process.exit(2);
}
if (cluster.isPrimary) {
  const worker = cluster.fork();
  worker.on('exit', (code) => process.exit(code));
} else {
  const held = [];
  net
    .createServer((sock) => held.push(sock))
    .listen(port, '127.0.0.1', () => {
      for (let i = 0; i < 3; i++) held.push(net.connect(port, '127.0.0.1'));
      setTimeout(() => {
        process.report.writeReport(out);
        process.exit(0);
      }, 300);
    });
}
