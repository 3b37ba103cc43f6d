'use strict';
// A small Node.js service that leaks sockets (and timers) on purpose, and the peers that drive it.
//
//   node leaky_sockets.js peers   API_PORT UPSTREAM_PORT AUDIT_PORT [CLIENTS] [INTERVAL_MS]
//   node leaky_sockets.js service API_PORT UPSTREAM_PORT AUDIT_PORT [MAX_LEAK]
//
// "peers" runs everything around the service: an upstream HTTP server on UPSTREAM_PORT, an audit
// TCP sink on AUDIT_PORT that never closes a connection, and CLIENTS keep-alive clients that each
// send one request to the service every INTERVAL_MS.
//
// "service" is the process to inspect. It listens on API_PORT; for every request it
//   * forwards a call to the upstream through a keep-alive agent capped at 4 sockets
//     (the steady pool: at most 4 connections to UPSTREAM_PORT, reused for ever),
//   * opens a new TCP connection to the audit sink, writes one line and never ends it
//     (the leak: one more connection to AUDIT_PORT per request, up to MAX_LEAK),
//   * starts a setInterval that is never cleared (a timer leak: Node runs every JS timer
//     on one libuv timer handle, so it does not show in the libuv handle list).
// It prints its pid once listening. Reports are taken from outside with
// `node --report-on-signal --report-signal=SIGUSR2` and `kill -USR2 <pid>`.

const http = require('http');
const net = require('net');

const HOST = '127.0.0.1';

function peers(apiPort, upstreamPort, auditPort, clients, intervalMs) {
  http
    .createServer((req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end('ok\n');
    })
    .listen(upstreamPort, HOST);
  net
    .createServer((sock) => {
      sock.on('data', () => {}); // read and keep: the sink never ends a connection
      sock.on('error', () => {});
    })
    .listen(auditPort, HOST);
  // The service's steady callers: a fixed number of keep-alive connections.
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  let n = 0;
  setInterval(() => {
    for (let i = 0; i < clients; i++) {
      const req = http.get({ host: HOST, port: apiPort, path: `/item/${n++}`, agent }, (res) => {
        res.resume();
      });
      req.on('error', () => {});
    }
  }, intervalMs);
}

function service(apiPort, upstreamPort, auditPort, maxLeak) {
  const pool = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const audit = []; // leaked audit connections, kept referenced
  const intervals = []; // leaked JS timers
  let requests = 0;

  function writeAudit(line) {
    if (audit.length >= maxLeak) return;
    // The bug: a connection per request, never ended.
    const sock = net.connect(auditPort, HOST, () => sock.write(line + '\n'));
    sock.on('error', () => {});
    audit.push(sock);
    // The other bug: a per-request poller nobody clears.
    intervals.push(setInterval(() => {}, 60000));
  }

  function callUpstream(path, done) {
    const req = http.get({ host: HOST, port: upstreamPort, path, agent: pool }, (res) => {
      res.resume();
      res.on('end', done);
    });
    req.on('error', done);
  }

  const server = http.createServer((req, res) => {
    requests++;
    writeAudit(`request ${requests} ${req.url}`);
    callUpstream(req.url, () => res.end('done\n'));
  });
  server.keepAliveTimeout = 60000;
  server.listen(apiPort, HOST, () => {
    process.stdout.write(`${process.pid}\n`);
  });
}

const [role, ...args] = process.argv.slice(2);
const nums = args.map(Number);
if (role === 'peers' && nums.length >= 3) {
  peers(nums[0], nums[1], nums[2], nums[3] || 3, nums[4] || 1000);
} else if (role === 'service' && nums.length >= 3) {
  service(nums[0], nums[1], nums[2], nums[3] || 100);
} else {
  process.stderr.write(
    'usage: leaky_sockets.js peers API UPSTREAM AUDIT [CLIENTS] [INTERVAL_MS]\n' +
      '       leaky_sockets.js service API UPSTREAM AUDIT [MAX_LEAK]\n',
  );
  process.exit(2);
}
