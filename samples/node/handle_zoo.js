'use strict';
// One of each kind of libuv handle a service commonly holds, then a report written from a
// nested call, so the report has a JavaScript stack: node handle_zoo.js <report-file>
//
// tcp: a listener on 127.0.0.1 and one on ::1 (IPv6), a client connected to the first and the
// connection the listener accepted, a connect that never completes (to a TEST-NET address);
// udp: a socket bound to an ephemeral port and one connected to 127.0.0.1:9; pipe: a unix socket
// listener, a client and the accepted end; a child process (with its stdio pipes); fs.watch;
// a signal listener; a worker thread with its own listener; timers.
const dgram = require('dgram');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const { Worker } = require('worker_threads');

const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: handle_zoo.js REPORT_FILE\n');
  process.exit(2);
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zoo-'));
const sockPath = path.join(dir, 'zoo.sock');
const keep = [];

function listen(server, ...args) {
  return new Promise((resolve) => server.listen(...args, () => resolve(server)));
}

async function main() {
  const srv = await listen(net.createServer((s) => keep.push(s)), 0, '127.0.0.1');
  await listen(net.createServer(() => {}), 0, '::1');
  const client = net.connect(srv.address().port, '127.0.0.1');
  keep.push(client);
  const stuck = net.connect(9, '198.51.100.1'); // TEST-NET-2: the SYN goes unanswered
  stuck.on('error', () => {});
  const udp = dgram.createSocket('udp4');
  udp.bind(0, '127.0.0.1');
  const udpc = dgram.createSocket('udp4');
  udpc.connect(9, '127.0.0.1');
  const unix = await listen(net.createServer((s) => keep.push(s)), sockPath);
  keep.push(unix, net.connect(sockPath));
  const child = spawn('sleep', ['30']);
  child.unref();
  keep.push(fs.watch(dir));
  process.on('SIGUSR1', () => {});
  new Worker(
    "require('net').createServer(() => {}).listen(0, '127.0.0.1'); setInterval(() => {}, 1000);",
    { eval: true },
  ).unref();
  setInterval(() => {}, 1000);
  setTimeout(() => {}, 60000).unref();
  setTimeout(() => writeNested(3), 500);
}

function writeNested(depth) {
  if (depth > 0) return writeNested(depth - 1);
  process.report.writeReport(out);
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

main();
