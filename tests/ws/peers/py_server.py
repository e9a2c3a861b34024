#!/usr/bin/python3
"""tests/ws/peers/py_server.py — a conforming WebSocket server (Debian's python3-websockets,
run with /usr/bin/python3) that the client's tests talk to.

    /usr/bin/python3 tests/ws/peers/py_server.py [--port N] [--name py]
                     [--cert PEM --key PEM [--client-ca PEM]] [--tls NAME:CERT:KEY[:CLIENT_CA]]...
    prints "READY <name> <port>" on stdout once listening; logs go to stderr. With --cert and
    --key it speaks TLS (wss); with --client-ca it also requires a client certificate signed
    by that CA. Each --tls adds another wss listener with its own certificate (and client CA),
    announced as "READY <NAME> <port>", serving the same paths.

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
  /fragmented?count=&frags=&size=  sends `count` text messages, each in `frags` fragments of
                                 `size` bytes (message i: JSON-like text built from i; when
                                 permessage-deflate is on, every fragment is compressed and
                                 sync-flushed, RSV1 on the first), then echoes
Permessage-deflate is offered to clients that ask (the library's default).
"""
import argparse
import asyncio
import json
import ssl
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


def fragment_parts(i, frags, size):
    """Message i of /fragmented as a list of `frags` strings of `size` bytes each."""
    unit = f'{{"seq":{i},"sym":"BTC-USD","px":{1000 + i}.25}},'
    text = (unit * (frags * size // len(unit) + 1))[:frags * size]
    return [text[k * size:(k + 1) * size] for k in range(frags)]


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
    elif path == "/fragmented":
        count, frags, size = int(q.get("count", "3")), int(q.get("frags", "4")), int(q.get("size", "1000"))
        for i in range(1, count + 1):
            await ws.send(fragment_parts(i, frags, size))
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
    ap.add_argument("--name", default="py")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--client-ca")
    ap.add_argument("--tls", action="append", default=[])
    args = ap.parse_args()

    def tls_context(cert, key, client_ca):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        if client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(client_ca)
        return ctx

    def serve(port, ctx):
        return websockets.serve(safe_handler, "127.0.0.1", port, create_protocol=Proto,
                                subprotocols=SUBPROTOCOLS, max_size=64 << 20, max_queue=64,
                                ping_interval=None, close_timeout=5, ssl=ctx)

    listeners = [(args.name, args.port, tls_context(args.cert, args.key, args.client_ca) if args.cert else None)]
    for spec in args.tls:
        name, cert, key, *ca = spec.split(":")
        listeners.append((name, 0, tls_context(cert, key, ca[0] if ca else None)))
    servers = []
    for name, port, ctx in listeners:
        server = await serve(port, ctx)
        servers.append(server)
        print(f"READY {name} {server.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
