#!/usr/bin/python3
"""examples/price-stream/server.py — a price feed for examples/price-stream/prices.lua
(Debian's python3-websockets; run it with /usr/bin/python3).

    /usr/bin/python3 examples/price-stream/server.py [--port 8766] [--interval 0.05]

Clients connect to ws://127.0.0.1:PORT/prices and send
{"action": "subscribe", "symbols": [...]} (or "unsubscribe"). Every interval the server sends,
for each subscribed symbol, {"symbol": S, "value": V, "seq": N, "pings": P}: V follows a
random walk from a plausible start, P is how many pings this client has sent so far (the
keep-alive the client program does). Unknown symbols are refused with 1008.
"""
import argparse
import asyncio
import json
import random

import websockets
import websockets.legacy.server as wss

START = {"BTC-USD": 64000.0, "ETH-USD": 3400.0, "SOL-USD": 150.0}


class CountingPings(wss.WebSocketServerProtocol):
    """Counts the pings a client sends: the library answers each through pong()."""
    pings_received = 0

    async def pong(self, data=b""):
        self.pings_received += 1
        await super().pong(data)


async def handler(ws):
    if ws.path != "/prices":
        await ws.close(1008, "no such endpoint")
        return
    subscribed = []
    rng = random.Random(42)
    values = dict(START)
    seq = 0

    async def reader():
        nonlocal subscribed
        async for raw in ws:
            msg = json.loads(raw)
            symbols = [str(s) for s in msg.get("symbols", [])]
            unknown = [s for s in symbols if s not in START]
            if unknown:
                await ws.close(1008, "unknown symbol " + unknown[0])
                return
            if msg.get("action") == "subscribe":
                subscribed = subscribed + [s for s in symbols if s not in subscribed]
            elif msg.get("action") == "unsubscribe":
                subscribed = [s for s in subscribed if s not in symbols]

    task = asyncio.create_task(reader())
    try:
        while not task.done():
            await asyncio.sleep(INTERVAL)
            for sym in subscribed:
                seq += 1
                values[sym] = round(values[sym] * (1 + rng.uniform(-0.002, 0.002)), 2)
                await ws.send(json.dumps({"symbol": sym, "value": values[sym], "seq": seq, "pings": ws.pings_received}))
    except websockets.ConnectionClosed:
        pass
    finally:
        task.cancel()


INTERVAL = 0.05


async def main():
    global INTERVAL
    ap = argparse.ArgumentParser(description="price feed for examples/price-stream/prices.lua")
    ap.add_argument("--port", type=int, default=8766)
    ap.add_argument("--interval", type=float, default=0.05, help="seconds between ticks")
    args = ap.parse_args()
    INTERVAL = args.interval
    async with websockets.serve(handler, "127.0.0.1", args.port, create_protocol=CountingPings) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"price server listening on ws://127.0.0.1:{port}/prices", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
