// bench/peers/node_client.js — the Node `ws` peer of the WebSocket benchmarks (version pinned
// in bench/package.json; `npm ci` in bench/). Default client options except where a mode needs
// one. Modes and output match bench/lua/ws_client.lua:
//   recv URL N [CA_FILE|-] [deflate]          count N messages of a flood
//   echo URL SECONDS SIZE                     sequential round trips
//   conns URL COUNT PARALLEL K [deflate]      COUNT connections, PARALLEL dialing at once, each
//                                             waiting for K messages; then "HOLD" until killed
// Prints "RESULT key=value ..."; "UNAVAILABLE why" when the server refused for want of a
// permessage-deflate offer (close 4000). Exits 1 with a message on any failure.
'use strict';
const fs = require('fs');
const path = require('path');
const WebSocket = require(path.join(__dirname, '..', 'node_modules', 'ws'));

const [mode, url, ...rest] = process.argv.slice(2);
const now = () => Number(process.hrtime.bigint()) / 1e9;

function fail(msg) {
  console.error(`node_client: ${msg}`);
  process.exit(1);
}

function options(ca, deflate) {
  const o = { perMessageDeflate: deflate === 'deflate', maxPayload: 128 * 1024 * 1024 };
  if (ca && ca !== '-') o.ca = fs.readFileSync(ca);
  return o;
}

function recv(n, ca, deflate) {
  n = Number(n);
  const ws = new WebSocket(url, options(ca, deflate));
  let count = 0, bytes = 0, t0 = 0, done = false;
  ws.on('open', () => {
    t0 = now();
    ws.send(Buffer.from('go'));
  });
  ws.on('message', (data) => {
    count++;
    bytes += data.length;
    if (count === n) {
      const el = now() - t0;
      done = true;
      ws.close(1000);
      console.log(`RESULT msgs=${count} bytes=${bytes} seconds=${el.toFixed(6)}`);
    }
  });
  ws.on('close', (code) => {
    if (done) return;
    if (code === 4000) {
      console.log('UNAVAILABLE permessage-deflate not negotiated');
      return;
    }
    fail(`connection ended after ${count} of ${n} messages (close ${code})`);
  });
  ws.on('error', (e) => fail(e.message));
}

function echo(seconds, size) {
  seconds = Number(seconds);
  const payload = Buffer.alloc(Number(size), 'e');
  const ws = new WebSocket(url, options('-', ''));
  const lat = [];
  let t0 = 0, sent = 0, done = false;
  ws.on('open', () => {
    t0 = now();
    sent = now();
    ws.send(payload);
  });
  ws.on('message', (data) => {
    const t = now();
    if (data.length !== payload.length) fail('echo lost');
    lat.push(t - sent);
    if (t - t0 >= seconds) {
      done = true;
      ws.close(1000);
      lat.sort((a, b) => a - b);
      const p = (q) => (lat[Math.floor(lat.length * q)] * 1e6).toFixed(2);
      console.log(`RESULT rtts=${lat.length} seconds=${(t - t0).toFixed(6)} p50_us=${p(0.5)} p99_us=${p(0.99)}`);
      return;
    }
    sent = now();
    ws.send(payload);
  });
  ws.on('close', (code) => { if (!done) fail(`connection ended (close ${code})`); });
  ws.on('error', (e) => fail(e.message));
}

function conns(count, parallel, k, deflate) {
  count = Number(count); parallel = Number(parallel); k = Number(k);
  const held = [];
  let next = 0;
  const openOne = () => new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options('-', deflate));
    let got = 0;
    held.push(ws);
    ws.on('open', () => { if (k === 0) resolve(); });
    ws.on('message', () => { if (++got === k) resolve(); });
    ws.on('close', (code) => reject(code === 4000 ? 'UNAVAILABLE' : new Error(`closed early (${code})`)));
    ws.on('error', (e) => reject(e));
  });
  const worker = async () => {
    while (next < count) {
      next++;
      await openOne();
    }
  };
  console.log('BASE');
  setTimeout(async () => {
    const t0 = now();
    try {
      await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
    } catch (e) {
      if (e === 'UNAVAILABLE') {
        console.log('UNAVAILABLE permessage-deflate not negotiated');
        process.exit(0);
      }
      fail(e.message || String(e));
    }
    console.log(`RESULT conns=${count} seconds=${(now() - t0).toFixed(6)}`);
    console.log('HOLD');
    setInterval(() => {}, 1 << 30);
  }, 500);
}

if (mode === 'recv') recv(...rest);
else if (mode === 'echo') echo(...rest);
else if (mode === 'conns') conns(...rest);
else fail('usage: node_client.js recv|echo|conns URL ...');
