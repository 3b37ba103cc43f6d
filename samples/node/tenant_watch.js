// A service that leaks a file watcher per tenant: each tenant it serves gets
// fs.watchFile('tenants/tenant-N.json'), never unwatched (fs.unwatchFile) when the tenant
// leaves. Each watcher is one libuv fs_poll handle with its own path, so a diagnostic report
// holds one handle per tenant path: a leak split over many keys. The config file is watched
// once (steady). Core modules only. Run in an empty folder; prints its pid, runs until killed.
//
//   node --report-on-signal --report-signal=SIGUSR2 tenant_watch.js [INTERVAL_MS] [MAX]
'use strict';
const fs = require('fs');

const interval = Number(process.argv[2] || 200);
const max = Number(process.argv[3] || 400);
fs.mkdirSync('tenants', { recursive: true });
fs.writeFileSync('config.json', '{}');
fs.watchFile('config.json', { interval: 5000 }, () => {});

let n = 0;
const timer = setInterval(() => {
  n += 1;
  const path = `tenants/tenant-${n}.json`;
  fs.writeFileSync(path, '{}');
  fs.watchFile(path, { interval: 60000 }, () => {}); // the leak: never unwatched
  if (n >= max) clearInterval(timer);
}, interval);
console.log(process.pid);
