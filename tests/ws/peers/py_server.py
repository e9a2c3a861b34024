#!/usr/bin/python3
"""tests/ws/peers/py_server.py — a conforming WebSocket server (Debian's python3-websockets,
run with /usr/bin/python3) that the client's tests talk to.

    /usr/bin/python3 tests/ws/peers/py_server.py [--port N]
    prints "READY py <port>" on stdout once listening; logs go to stderr.

Paths:
  /echo                          echoes every text and binary message (up to 64 MiB)
  /close?code=&reason=&before=   sends `before` messages "m1".."mN", then closes with code/reason
  /flood?n=&size=                sends n numbered messages as fast as the client takes them:
                                 message i is the 10-digit i, padded with "x" to size bytes;
                                 then closes with 1000 "flood done"
  /subprotocol                   picks the first offered of chat.v1, chat.v2, graphql-ws;
                                 sends {"protocol": <it or null>}, then echoes
  /headers                       sends {"path": ..., "headers": [[name, value], ...]}, then echoes
  /extensions                    sends {"extensions": [{name, client_no_context_takeover,
                                 server_no_context_takeover}, ...]}, then echoes
  /slow-upgrade                  accepts the TCP connection and never answers the upgrade
  /ping?n=3                      sends n pings, waits for each pong (5 s), sends "pongs:<n>" or
                                 "pong-timeout", then echoes
  /delay?ms=&text=               sends text after ms milliseconds, then echoes
Permessage-deflate is offered to clients that ask (the library's default).
"""
import argparse
import asyncio
import json
import sys
import urllib.parse

import websockets
import websockets.legacy.server as wss

SUBPROTOCOLS = ["chat.v1", "chat.v2", "graphql-ws"]


class Proto(wss.WebSocketServerProtocol):
    async def process_request(self, path, headers):
        if urllib.parse.urlsplit(path).path == "/slow-upgrade":
            await asyncio.sleep(3600)
        return None

    def select_subprotocol(self, client_subprotocols, server_subprotocols):
        if urllib.parse.urlsplit(self.path).path != "/subprotocol":
            return None
        for p in client_subprotocols:
            if p in SUBPROTOCOLS:
                return p
        return None


async def echo(ws):
    async for msg in ws:
        await ws.send(msg)


async def handler(ws):
    u = urllib.parse.urlsplit(ws.path)
    q = dict(urllib.parse.parse_qsl(u.query))
    path = u.path
    if path == "/echo":
        await echo(ws)
    elif path == "/close":
        for i in range(1, int(q.get("before", "0")) + 1):
            await ws.send(f"m{i}")
        await ws.close(int(q.get("code", "1000")), q.get("reason", ""))
    elif path == "/flood":
        n, size = int(q.get("n", "1000")), int(q.get("size", "100"))
        size = max(size, 10)
        pad = "x" * (size - 10)
        for i in range(1, n + 1):
            await ws.send(f"{i:010d}{pad}")
        await ws.close(1000, "flood done")
    elif path == "/subprotocol":
        await ws.send(json.dumps({"protocol": ws.subprotocol}))
        await echo(ws)
    elif path == "/headers":
        await ws.send(json.dumps({"path": ws.path, "headers": [[k, v] for k, v in ws.request_headers.raw_items()]}))
        await echo(ws)
    elif path == "/extensions":
        exts = [{"name": e.name,
                 "client_no_context_takeover": getattr(e, "remote_no_context_takeover", None),
                 "server_no_context_takeover": getattr(e, "local_no_context_takeover", None)}
                for e in ws.extensions]
        await ws.send(json.dumps({"extensions": exts}))
        await echo(ws)
    elif path == "/ping":
        n = int(q.get("n", "3"))
        try:
            for i in range(n):
                waiter = await ws.ping(f"p{i}")
                await asyncio.wait_for(waiter, timeout=5)
            await ws.send(f"pongs:{n}")
        except asyncio.TimeoutError:
            await ws.send("pong-timeout")
            await ws.close(1011, "no pong")
            return
        await echo(ws)
    elif path == "/delay":
        await asyncio.sleep(int(q.get("ms", "100")) / 1000)
        await ws.send(q.get("text", "delayed"))
        await echo(ws)
    else:
        await ws.close(1008, "unknown path " + path)


async def safe_handler(ws):
    try:
        await handler(ws)
    except websockets.ConnectionClosed:
        pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    async with websockets.serve(safe_handler, "127.0.0.1", args.port, create_protocol=Proto,
                                subprotocols=SUBPROTOCOLS, max_size=64 << 20, max_queue=64,
                                ping_interval=None, close_timeout=5) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"READY py {port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
