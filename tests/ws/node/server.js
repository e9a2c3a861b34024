// tests/ws/node/server.js — a second, independent WebSocket server (npm `ws`, pinned in
// package.json) for the client's tests.
//
//   node tests/ws/node/server.js [port]
//   prints "READY node <port>" on stdout once listening; logs go to stderr.
//
// Paths:
//   /echo               echoes every text and binary message, keeping its type
//   /flood?n=&size=     sends n numbered messages (message i = the 10-digit i padded with "x" to
//                       size bytes) as fast as the socket takes them, then closes 1000 "flood done"
// Permessage-deflate is accepted when a client offers it.
'use strict';

const { WebSocketServer } = require('ws');

const port = Number(process.argv[2] || 0);
const wss = new WebSocketServer({
  host: '127.0.0.1',
  port,
  maxPayload: 64 * 1024 * 1024,
  perMessageDeflate: { threshold: 64 },
});

function flood(ws, n, size) {
  const pad = 'x'.repeat(Math.max(size, 10) - 10);
  let i = 1;
  // Sends while the socket's buffer is small; resumes from the write callback otherwise, so a
  // slow reader holds the sender back instead of growing our memory.
  const pump = () => {
    while (i <= n) {
      const msg = String(i).padStart(10, '0') + pad;
      i++;
      if (ws.bufferedAmount > 1 << 20) {
        ws.send(msg, (err) => { if (!err) pump(); });
        return;
      }
      ws.send(msg);
    }
    ws.close(1000, 'flood done');
  };
  pump();
}

wss.on('connection', (ws, req) => {
  const url = new URL(req.url, 'ws://localhost');
  ws.on('error', (err) => console.error('node: connection error:', err.message));
  if (url.pathname === '/echo') {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  } else if (url.pathname === '/flood') {
    flood(ws, Number(url.searchParams.get('n') || 1000), Number(url.searchParams.get('size') || 100));
  } else {
    ws.close(1008, 'unknown path ' + url.pathname);
  }
});

wss.on('listening', () => {
  process.stdout.write(`READY node ${wss.address().port}\n`);
});

process.on('SIGTERM', () => wss.close(() => process.exit(0)));
