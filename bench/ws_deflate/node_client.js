// bench/ws_deflate/node_client.js — npm ws's side of bench/ws_deflate_conns.py: the same
// workload as conns.lua (COUNT connections, one 1 KiB JSON echo each, then held), with ws's
// permessage-deflate defaults ("context_takeover": perMessageDeflate: true) or
// client/server_no_context_takeover ("no_context"), or none ("disabled").
//   node bench/ws_deflate/node_client.js URL COUNT PARALLEL COMPRESSION
'use strict';
const path = require('path');
const WebSocket = require(path.join(__dirname, '..', '..', 'tests', 'ws', 'node', 'node_modules', 'ws'));

const [url, countS, parallelS, compression] = process.argv.slice(2);
const count = Number(countS), parallel = Number(parallelS);
const pmd = compression === 'disabled' ? false
  : compression === 'no_context' ? { clientNoContextTakeover: true, serverNoContextTakeover: true, threshold: 0 }
    : { threshold: 0 };

function json1k(i) {
  let s = '', k = 0;
  while (s.length < 1024) {
    s += `{"seq":${i * 100 + k},"sym":"BTC-USD","px":${60000 + (i * 37 + k * 11) % 9000}.${String((i + k) % 100).padStart(2, '0')},"qty":${(i * 13 + k) % 500}},`;
    k++;
  }
  return s.slice(0, 1024);
}

const clients = [];
function open(i) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: pmd });
    const msg = json1k(i);
    ws.on('open', () => ws.send(msg));
    ws.on('message', (data) => {
      if (data.toString() !== msg) return reject(new Error(`connection ${i}: echo differs`));
      clients.push(ws);
      resolve();
    });
    ws.on('error', reject);
  });
}

async function main() {
  console.log('@@base');
  await new Promise((r) => setTimeout(r, 1500));
  const per = Math.ceil(count / parallel);
  const workers = [];
  for (let p = 0; p < parallel; p++) {
    workers.push((async () => {
      for (let i = p * per; i < Math.min((p + 1) * per, count); i++) await open(i + 1);
    })());
  }
  await Promise.all(workers);
  if (global.gc) global.gc();
  console.log(`@@hold ${clients.length}`);
  setInterval(() => {}, 1 << 30);
}
main().catch((e) => { console.error(e); process.exit(1); });
